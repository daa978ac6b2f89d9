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
import math
import os
import sys
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

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
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=list(include) or None, include_defaults=defaults)


def task_manager(spec: str, include: tuple[str, ...]) -> Any:
    """A TaskManager that knows `spec`; lm-eval's own index (slow to build) only when needed."""
    if is_path(spec):
        return _manager(include, False)
    if include and spec in _manager(include, False).all_tasks:
        return _manager(include, False)
    return _manager(include, True)


def load_tasks(spec: str, include: tuple[str, ...]) -> tuple[dict[str, Any], Any]:
    """Build the tasks of a spec (name, group, tag or YAML path); errors become TaskLoadError."""
    import yaml
    from datasets.exceptions import DatasetNotFoundError

    manager = task_manager(spec, include)
    try:
        loaded = manager.load([spec])
    except KeyError:
        raise TaskLoadError(f"lm-eval does not know the task {spec!r}") from None
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


def task_fingerprint(loaded: dict[str, Any]) -> dict[str, str]:
    """Per task, a hash of its configuration and of its evaluation documents."""
    prints = {}
    for name, task in sorted(loaded["tasks"].items()):
        digest = hashlib.sha256(
            json.dumps(task.dump_config(), sort_keys=True, default=_stable).encode()
        )
        for doc in task.eval_docs:
            digest.update(json.dumps(doc, sort_keys=True, default=_stable).encode())
        prints[name] = digest.hexdigest()
    return prints


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
    descriptor (captured by a test runner), only Python-level output is redirected.
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("a", encoding="utf-8") as sink, contextlib.redirect_stderr(sink):
        handler = logging.StreamHandler(sink)
        logger = logging.getLogger("lm_eval")
        saved = (logger.handlers[:], logger.propagate)
        logger.handlers, logger.propagate = [handler], False
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
            logger.handlers, logger.propagate = saved


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


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) or hasattr(value, "item"):
        try:
            number = float(value)
        except (TypeError, ValueError):
            return None
        return number if math.isfinite(number) else None
    return None


def _prediction(filtered: list[Any]) -> str | None:
    """The answer lm-eval scored: a generation, or the index of the most likely choice."""
    if len(filtered) > 1 and all(
        isinstance(x, (list, tuple)) and x and _number(x[0]) is not None for x in filtered
    ):
        scores = [float(x[0]) for x in filtered]
        return str(scores.index(max(scores)))
    if len(filtered) == 1 and isinstance(filtered[0], str):
        return filtered[0]
    return None


def _response(sample: dict[str, Any]) -> str | None:
    """The raw generated text of a generation task (None for likelihood tasks)."""
    resps = sample.get("resps") or []
    first = resps[0] if resps else None
    text = first[0] if isinstance(first, list) and first else first
    return text if isinstance(text, str) else None


def sample_records(
    samples: dict[str, list[dict[str, Any]]], label: str, arm: str, checkpoint: str | None
) -> list[dict[str, Any]]:
    """bench records (one per document, metric and filter) from lm-eval's logged samples."""
    records = []
    for subtask, logged in samples.items():
        for sample in logged:
            doc_id = str(sample["doc_id"])
            base = {
                "kind": "bench",
                "task": label,
                "arm": arm,
                "doc_id": doc_id if subtask == label else f"{subtask}/{doc_id}",
                "filter": sample.get("filter"),
                "doc_hash": sample.get("doc_hash"),
                "prediction": _prediction(list(sample.get("filtered_resps") or [])),
                "target": None if sample.get("target") is None else str(sample["target"]),
                "subtask": subtask,
                "checkpoint": checkpoint,
            }
            text, doc = _response(sample), sample.get("doc") or {}
            if text is not None:
                base["response"] = text
                if isinstance(doc.get("question"), str):
                    base["question"] = doc["question"]
            for metric in sample.get("metrics", []):
                value = _number(sample.get(metric))
                if value is not None:
                    records.append({**base, "metric": metric, "value": value})
    return records
