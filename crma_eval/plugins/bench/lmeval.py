"""lm-evaluation-harness glue: offline environment, task loading, evaluation, samples to records.

lm-eval (and `datasets`) are imported only inside these functions, after the environment is set.
lm-eval's own request cache is never used: it keys on the request alone, so checkpoints that share
a base model would silently reuse each other's answers (lm-eval issues #2715, #4063).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from crma_eval.plugins.bench.taskdata import yaml_relative_factory

OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE")


class TaskLoadError(Exception):
    """A task lm-eval does not know, or whose data cannot be loaded."""


def prepare_environment(offline: bool) -> None:
    """Make Hugging Face libraries offline before (or, if already imported, while) lm-eval loads."""
    if not offline:
        return
    for name in OFFLINE_VARIABLES:
        os.environ[name] = "1"
    if "huggingface_hub" in sys.modules:
        sys.modules["huggingface_hub"].constants.HF_HUB_OFFLINE = True
    if "datasets" in sys.modules:
        config = sys.modules["datasets"].config
        config.HF_HUB_OFFLINE = config.HF_DATASETS_OFFLINE = True


def is_path(spec: str) -> bool:
    """True when a task spec names a YAML file rather than a registered task."""
    return spec.endswith((".yaml", ".yml"))


@lru_cache(maxsize=8)
def _manager(include: tuple[str, ...], defaults: bool) -> Any:
    """lm-eval's TaskManager; its tasks read relative data paths from their YAML's folder
    (crma_eval.plugins.bench.taskdata)."""
    from lm_eval.tasks import TaskManager

    manager = TaskManager(include_path=list(include) or None, include_defaults=defaults)
    manager._factory = yaml_relative_factory(manager.metadata)
    return manager


def _tolerant_loader() -> Any:
    import yaml

    class Loader(yaml.SafeLoader):
        """Safe YAML that reads lm-eval's `!function` tags as nothing (only names are read)."""

    Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return Loader


def declared_name(path: Path) -> str:
    """The group or task a task YAML declares (`group:` first, else `task:`)."""
    import yaml

    try:
        config = yaml.load(path.read_text(encoding="utf-8"), Loader=_tolerant_loader())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise TaskLoadError(f"cannot read the task file {str(path)!r}: {exc}") from None
    config = config if isinstance(config, dict) else {}
    for key in ("group", "task"):
        if isinstance(config.get(key), str):
            return str(config[key])
    raise TaskLoadError(f"task file {str(path)!r} declares neither a group nor a task name")


def task_manager(spec: str, include: tuple[str, ...]) -> Any:
    """A TaskManager that knows `spec`; lm-eval's own index (slow to build) only when needed."""
    if include and spec in _manager(include, False).all_tasks:
        return _manager(include, False)
    return _manager(include, True)


def load_tasks(spec: str, include: tuple[str, ...]) -> tuple[dict[str, Any], Any]:
    """Build the tasks of a spec (name, group, tag or YAML path); errors become TaskLoadError.

    A YAML path is loaded by the name it declares with its folder on the include path (lm-eval's
    TaskManager cannot load a group from a path: "unhashable type: 'list'"), so the group's
    members and sub-groups beside it resolve as well."""
    import yaml
    from datasets.exceptions import DatasetNotFoundError

    name = spec
    if is_path(spec):
        path = Path(spec)
        if not path.is_file():
            raise TaskLoadError(f"no task file {spec!r}")
        name, include = declared_name(path), (*include, str(path.resolve().parent))
    manager = task_manager(name, include)
    try:
        loaded = manager.load([name])
    except KeyError:
        raise TaskLoadError(f"lm-eval does not know the task {spec!r}") from None
    except FileNotFoundError as exc:
        raise TaskLoadError(f"task {spec!r}: file not found: {exc}") from None
    except (OSError, DatasetNotFoundError) as exc:
        raise TaskLoadError(f"cannot load the data of task {spec!r} (offline?): {exc}") from None
    except (ValueError, TypeError, yaml.YAMLError) as exc:
        raise TaskLoadError(f"invalid task {spec!r}: {exc}") from None
    if not loaded["tasks"]:
        raise TaskLoadError(f"task {spec!r} contains no tasks")
    return loaded, manager


def task_label(spec: str, loaded: dict[str, Any]) -> str:
    """The task name records carry: the spec, or for a YAML path the group or task it defines."""
    if not is_path(spec):
        return spec
    if loaded["groups"]:
        return next(iter(loaded["groups"]))
    if len(loaded["tasks"]) == 1:
        return next(iter(loaded["tasks"]))
    return Path(spec).stem


def _stable(obj: Any) -> str:
    """JSON fallback that never prints memory addresses (callables by qualified name)."""
    name = getattr(obj, "__qualname__", None) or type(obj).__qualname__
    return f"{getattr(obj, '__module__', '')}.{name}"


def _docs_digest(digest: Any, docs: Any) -> None:
    for doc in docs or ():
        digest.update(json.dumps(doc, sort_keys=True, default=_stable).encode())


def _fewshot_docs(task: Any) -> Any:
    """The documents a task draws few-shot examples from (None when it has none)."""
    try:
        return task.fewshot_docs()
    except Exception:  # tasks without a few-shot source raise in some lm-eval versions
        return None


def task_fingerprint(loaded: dict[str, Any]) -> dict[str, str]:
    """Per task, a hash of its configuration, its evaluation documents and the documents its
    few-shot examples are drawn from (editing either split changes the answers); per group,
    its configuration (members, aggregation)."""
    prints = {}
    for name, task in sorted(loaded["tasks"].items()):
        digest = hashlib.sha256(
            json.dumps(task.dump_config(), sort_keys=True, default=_stable).encode()
        )
        _docs_digest(digest, task.eval_docs)
        digest.update(b"\x00fewshot\x00")
        _docs_digest(digest, _fewshot_docs(task))
        prints[name] = digest.hexdigest()
    for name, group in sorted((loaded.get("groups") or {}).items()):
        text = json.dumps(_group_rules(group), sort_keys=True, default=_stable)
        prints[f"group:{name}"] = hashlib.sha256(text.encode()).hexdigest()
    return prints


def _group_rules(group: Any) -> dict[str, Any]:
    """A group's name, leaf tasks and aggregate_metric_list (lm_eval/api/group.py)."""
    rules = [
        {
            "metric": agg.metric,
            "weight_by_size": bool(agg.weight_by_size),
            "filter_list": None if agg.filter_list is None else list(agg.filter_list),
        }
        for agg in group.aggregate_metric_list or []
    ]
    leaves = [t.task_name for t in group.get_all_tasks()]
    return {"name": group.name, "aggregate": rules, "tasks": leaves}


def group_memberships(loaded: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per leaf task, the groups containing it (outermost first) with their aggregation rules.

    lm-eval aggregates a group over all its leaf tasks (nested groups included), each group by
    its own aggregate_metric_list; a group without one reports no score."""
    groups = [_group_rules(g) for g in (loaded.get("groups") or {}).values()]
    groups.sort(key=lambda g: -len(g["tasks"]))
    member: dict[str, list[dict[str, Any]]] = {}
    for group in groups:
        for task in group["tasks"]:
            entry = {"name": group["name"], "aggregate": group["aggregate"]}
            member.setdefault(task, []).append(entry)
    return member


def _progress_sink() -> contextlib.AbstractContextManager[Any]:
    """lm-eval forces its progress bars on; honour TQDM_DISABLE (`--quiet`) by sinking them."""
    if os.environ.get("TQDM_DISABLE") == "1":
        return contextlib.redirect_stderr(io.StringIO())
    return contextlib.nullcontext()


@contextlib.contextmanager
def lm_eval_output_to(log: Path) -> Iterator[None]:
    """Send lm-eval's console output (progress bars, logged warnings, and what its `git`
    subprocess prints to file descriptor 2) to the file `log`, appended, for the block.

    Our own progress display (on stdout) stays on the console. Where stderr has no file
    descriptor (captured by a test runner), only Python-level output is redirected. lm-eval's
    warnings reach the log even under `--quiet` (which hushes them on the console only).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as sink, contextlib.redirect_stderr(sink):
        handler = logging.StreamHandler(sink)
        logger = logging.getLogger("lm_eval")
        saved = (logger.handlers[:], logger.propagate, logger.level)
        logger.handlers, logger.propagate = [handler], False
        logger.setLevel(min(logger.getEffectiveLevel(), logging.WARNING))
        fd = _stderr_fd()
        kept = os.dup(fd) if fd is not None else None
        if fd is not None:
            sys.__stderr__.flush()  # type: ignore[union-attr]
            os.dup2(sink.fileno(), fd)
        try:
            yield
        finally:
            sink.flush()
            if fd is not None and kept is not None:
                os.dup2(kept, fd)
                os.close(kept)
            logger.handlers, logger.propagate = saved[:2]
            logger.setLevel(saved[2])


def _stderr_fd() -> int | None:
    try:
        return sys.__stderr__.fileno() if sys.__stderr__ is not None else None
    except (AttributeError, OSError, ValueError):
        return None


def evaluate(
    model: Any, tokenizer: Any, loaded: dict[str, Any], manager: Any, opts: Any, batch_size: int
) -> dict[str, list[dict[str, Any]]]:
    """Run lm-eval on the live model (no copy) and return its per-sample logs by task name."""
    from lm_eval.evaluator import simple_evaluate

    from crma_eval import PrefixSharedLM

    kwargs = {} if opts.max_length is None else {"max_length": opts.max_length}
    lm = PrefixSharedLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, **kwargs)
    with _progress_sink():
        results = simple_evaluate(
            model=lm,
            tasks=list(loaded["tasks"].values()),
            task_manager=manager,
            num_fewshot=opts.num_fewshot,
            limit=opts.limit,
            gen_kwargs=opts.gen_kwargs,
            log_samples=True,
            bootstrap_iters=0,
            use_cache=None,
            cache_requests=False,
            fewshot_random_seed=opts.fewshot_seed,
        )
    return results["samples"]
