"""Build the embedded demo: data, a pre-trained tiny base LM, every checkpoint and `demo.yaml`.

Layout under `out_dir`: `data/` (train/holdout text, QA sets, router suite, bench task data),
`base/` (model and tokenizer, safetensors), `routers/` (centroid router per phase),
`checkpoints/<condition>-seed<s>-phase<p>/`, `logs/` (whole-run spectral logs), `tasks/` (local
lm-eval tasks), `cache/` (bench and `datasets` caches, so runs never touch the user's home cache)
and `demo.yaml` (a RunConfig pointing at the rest).
Runs are independent, so with `workers > 1` they train in parallel processes; the checkpoints do
not depend on `workers`.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import shutil
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from rich.progress import Progress
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.utils import logging as hf_logging

from crma_eval.checkpoint.router import CentroidRouter
from crma_eval.config import load_config
from crma_eval.demo.domains import (
    QA_PROMPT,
    CorpusFiles,
    DemoCorpus,
    all_text,
    domain_queries,
    generate,
)
from crma_eval.demo.domains import write_corpus as write_data
from crma_eval.demo.tasks import DemoTasks, arith_lines, write_tasks
from crma_eval.demo.tinymodel import encode, save_base, tiny_llama, train_tokenizer
from crma_eval.demo.trainer import CONDITIONS, RunSpec, TrainSettings, pretrain, run_sequence
from crma_eval.engine import EngineSession

DATA_SEED = 0
ROUTER_QUANTILE = 0.05  # threshold = this quantile of calibration queries' best cosine
CALIBRATION_PER_DOMAIN = 40
ARITH_REPEATS = 50  # copies of each arithmetic problem in the base pre-training text
CENTROID_QUERIES = 200  # query-style texts per domain that enter its centroid
SETTINGS: dict[str, TrainSettings] = {
    "full": TrainSettings(pretrain_steps=500, phase_steps=60),
    "small": TrainSettings(pretrain_steps=40, phase_steps=8, batch_size=16),
}


@dataclass(frozen=True)
class DemoArtifacts:
    """What `build_demo` wrote."""

    root: Path
    config_path: Path
    base_model: Path
    data: CorpusFiles
    tasks: DemoTasks
    checkpoints: list[Path]
    seconds: float


@contextmanager
def _runtime() -> Iterator[None]:
    """One intra-op thread (tiny matrices; parallelism comes from processes), no HF noise."""
    threads, bars = torch.get_num_threads(), hf_logging.is_progress_bar_enabled()
    torch.set_num_threads(1)
    hf_logging.disable_progress_bar()
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
            yield
    finally:
        torch.set_num_threads(threads)
        if bars:
            hf_logging.enable_progress_bar()


def build_base(corpus: DemoCorpus, settings: TrainSettings, folder: Path) -> Path:
    """Train tokenizer and tiny Llama on the generic text of all domains and the arithmetic
    problems with sentence answers (ARITH_REPEATS copies each); save to `folder`."""
    arith = arith_lines(corpus)
    tokenizer = train_tokenizer(all_text(corpus) + arith)
    torch.manual_seed(DATA_SEED)
    model = tiny_llama(tokenizer)
    generic = [line for data in corpus.domains.values() for line in data.generic]
    generic += arith * ARITH_REPEATS
    pretrain(model, encode(tokenizer, generic), settings, DATA_SEED)
    return save_base(model, tokenizer, folder)


def build_routers(corpus: DemoCorpus, base: Path, folder: Path) -> dict[int, Path]:
    """Per phase, a centroid router over the trained domains (base-model embeddings of train text).

    Calibration split: fresh in-vocabulary queries of each trained domain (not in the suite).
    The softmax temperature is fitted on it, and the threshold (cosine cut-off below which a
    query goes to no adapter) is the ROUTER_QUANTILE quantile of its best cosines, so about
    that share of in-domain queries abstain.
    """
    session = EngineSession(str(base))
    # Centroids from the domain's training text and from query-style text of its vocabulary
    # (drawn apart from the calibration split and the suite), so questions land near them too.
    centroid_queries = domain_queries(corpus.domains, corpus.seed, CENTROID_QUERIES, "centroid")
    embeddings = {
        name: session.embed(d.train + centroid_queries[name]) for name, d in corpus.domains.items()
    }
    queries = domain_queries(corpus.domains, corpus.seed, CALIBRATION_PER_DOMAIN, "calibration")
    calibration = {name: session.embed(q) for name, q in queries.items()}
    folder.mkdir(parents=True, exist_ok=True)
    routers = {}
    for phase in range(1, len(embeddings) + 1):
        trained = list(embeddings)[:phase]
        router = CentroidRouter.build({n: embeddings[n] for n in trained})
        if phase > 1:
            router = router.calibrate({n: calibration[n] for n in trained})
        best = np.concatenate([router.similarities(calibration[n]).max(axis=1) for n in trained])
        router.threshold = float(np.quantile(best, ROUTER_QUANTILE))
        routers[phase] = router.save(folder / f"phase{phase}.safetensors")
    return routers


def _train_run(
    spec: RunSpec,
    texts: dict[str, list[str]],
    routers: dict[int, Path],
    settings: TrainSettings,
    on_phase: Callable[[], None],
) -> list[Path]:
    """Train one condition/seed from the saved base (also the entry point of worker processes)."""
    with _runtime():
        base = AutoModelForCausalLM.from_pretrained(spec.base_path, use_safetensors=True)
        tokenizer: Any = AutoTokenizer.from_pretrained(spec.base_path)
        seqs = {name: encode(tokenizer, lines) for name, lines in texts.items()}
        return run_sequence(spec, base.eval(), seqs, routers, settings, on_phase)


def _worker(
    spec: RunSpec,
    texts: dict[str, list[str]],
    routers: dict[int, Path],
    settings: TrainSettings,
    progress: Any,
) -> list[Path]:
    """Worker-process entry point: one run, reporting each finished phase on the queue."""
    return _train_run(spec, texts, routers, settings, lambda: progress.put(1))


def _train_all(
    specs: list[RunSpec],
    texts: dict[str, list[str]],
    routers: dict[int, Path],
    settings: TrainSettings,
    workers: int,
    advance: Callable[[int], None],
) -> list[Path]:
    """Train every run, in `workers` processes when more than one; progress counts phases."""
    if workers <= 1:
        return [
            p for s in specs for p in _train_run(s, texts, routers, settings, lambda: advance(1))
        ]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(workers, mp_context=context) as pool:
        q = manager.Queue()
        futures: list[Future] = [
            pool.submit(_worker, s, texts, routers, settings, q) for s in specs
        ]
        pending = set(futures)
        while pending:
            _, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            while True:
                try:
                    advance(q.get_nowait())
                except queue.Empty:
                    break
        return [p for f in futures for p in f.result()]


def bench_options(out: Path, tasks: DemoTasks, after: str) -> dict[str, Any]:
    """`options.bench`: the local tasks for the base model vs `after` (last adapter, CRMA on).

    Offline, and cached inside the demo folder so a demo run never reads or fills a user cache.
    """
    return {
        "tasks": list(tasks.names),
        "include_path": [str(tasks.folder.relative_to(out))],
        "arms": [
            {"name": "base", "checkpoint": "none", "crma": False, "adapter": "none"},
            {"name": "after", "checkpoint": after, "crma": True, "adapter": "last"},
        ],
        "offline": True,
        "cache_dir": "cache/bench",
    }


def write_run_config(
    out: Path,
    base: Path,
    data: CorpusFiles,
    checkpoints: list[Path],
    tasks: DemoTasks,
    after: str,
) -> Path:
    """Write `demo.yaml` (RunConfig format; data paths relative to it) and validate it.

    `after` is the checkpoint id (= folder name) the bench plugin compares with the base model.
    """

    def rel(path: Path) -> str:
        return str(Path(path).relative_to(out))

    if after not in {Path(p).name for p in checkpoints}:
        raise ValueError(f"bench checkpoint {after!r} is not among the demo's checkpoints")
    config = {
        "name": "crma-demo",
        "base_model": str(base.resolve()),
        "checkpoints": [rel(p) for p in checkpoints],
        "plugins": ["drift", "qa", "ablation", "cl", "router", "spectral", "bench"],
        "qa_checkpoints": "final",
        # QA per condition; the CRMA ablation (same items, CRMA on vs bypassed) on MODULAR.
        "arms": [
            {"name": "naive", "crma": False, "conditions": ["naive"]},
            {"name": "frozen", "crma": False, "conditions": ["frozen"]},
            {"name": "with_crma", "crma": True, "conditions": ["modular"]},
            {"name": "without_crma", "crma": False, "conditions": ["modular"]},
            {"name": "routed", "crma": True, "adapter": "router", "conditions": ["modular"]},
            # The continual-learning matrix (cl plugin): QA after every phase, the base model as
            # row 0, and oracle vs routed on MODULAR for the attribution.
            {"name": "base", "crma": False, "adapter": "none", "conditions": ["naive"]},
            *(
                {"name": f"cl_{c}", "crma": c == "modular", "conditions": [c], "checkpoints": "all"}
                for c in CONDITIONS
            ),
            {
                "name": "cl_routed",
                "crma": True,
                "adapter": "router",
                "conditions": ["modular"],
                "checkpoints": "all",
            },
        ],
        "engine": {"batch_size": 64, "max_length": 64, "threads": 1},
        "generation": {"max_new_tokens": 8, "stop": ["\n"], "prompt_template": QA_PROMPT},
        "data": {
            "holdout": {d: rel(p) for d, p in data.holdout.items()},
            "qa": {d: rel(p) for d, p in data.qa.items()},
            "router_suite": rel(data.router_suite),
        },
        "options": {
            "bench": bench_options(out, tasks, after),
            # The oracle gap joins the routed arm with CRMA-on oracle routing on MODULAR.
            "router": {"routed_arm": "routed", "oracle_arm": "with_crma"},
            "cl": {
                "primary_arm": {"modular": "cl_modular"},
                "oracle_arm": "cl_modular",
                "routed_arm": "cl_routed",
            },
        },
    }
    path = out / "demo.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), "utf-8")
    load_config(path)
    return path


def build_demo(
    out_dir: str | Path,
    *,
    seeds: Sequence[int] = (0, 1, 2),
    size: str = "full",
    quiet: bool = False,
    workers: int | None = None,
) -> DemoArtifacts:
    """Generate data, pre-train the base, train NAIVE/FROZEN/MODULAR per seed, write demo.yaml."""
    if size not in SETTINGS:
        raise ValueError(f"size must be one of {sorted(SETTINGS)}, got {size!r}")
    start, out, settings = time.monotonic(), Path(out_dir).resolve(), SETTINGS[size]
    workers = workers or min(4, os.cpu_count() or 1)
    for part in ("data", "base", "routers", "checkpoints", "logs", "tasks", "cache"):
        shutil.rmtree(out / part, ignore_errors=True)
    corpus = generate(DATA_SEED, size)
    specs = [
        RunSpec(c, s, tuple(corpus.domains), out / "base", out / "checkpoints")
        for c in CONDITIONS
        for s in seeds
    ]
    with Progress(disable=quiet, transient=False) as progress, _runtime():
        task = progress.add_task("demo: data and base pre-training", total=None)
        data = write_data(corpus, out / "data")
        tasks = write_tasks(
            corpus, out / "tasks", out / "data" / "bench", out / "cache" / "datasets"
        )
        base = build_base(corpus, settings, out / "base")
        progress.update(task, description="demo: router centroids")
        routers = build_routers(corpus, base, out / "routers")
        progress.update(
            task,
            total=len(specs) * len(corpus.domains),
            completed=0,
            description=f"demo: training {len(specs)} runs x {len(corpus.domains)} phases",
        )
        texts = {name: d.train for name, d in corpus.domains.items()}
        checkpoints = _train_all(
            specs, texts, routers, settings, workers, lambda n: progress.advance(task, n)
        )
    after = f"modular-seed{seeds[0]}-phase{len(corpus.domains)}"
    config = write_run_config(out, base, data, checkpoints, tasks, after)
    return DemoArtifacts(out, config, base, data, tasks, checkpoints, time.monotonic() - start)
