"""`crma-eval demo`: build the embedded demo, evaluate it with every plugin, summarise."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from crma_eval.api.catalogue import catalogue, interval_label
from crma_eval.config import load_config
from crma_eval.run import run_config


def _fmt(metrics: dict[str, Any], name: str, spec: str = ".2f") -> str:
    value = metrics.get(name)
    return "n/a" if value is None else format(value, spec)


def bench_lines(
    metrics: dict[str, Any], confidence: float = 0.95, base: str = "base", after: str = "after"
) -> list[str]:
    """Per bench task (and filter, when it has several): base vs after score, paired delta in pp."""
    lines = []
    for name in metrics:
        parts = name.split(".")
        if parts[0] != "bench" or parts[2:3] != [f"{after}_vs_{base}"] or parts[-1] != "delta_pp":
            continue
        task, filters = parts[1], parts[3:-1]
        seg, label = "".join(f".{f}" for f in filters), task + "".join(f" [{f}]" for f in filters)
        stem = f"bench.{task}.{after}_vs_{base}{seg}"
        low = _fmt(metrics, f"{stem}.delta_ci_low_pp", "+.1f")
        high = _fmt(metrics, f"{stem}.delta_ci_high_pp", "+.1f")
        lines.append(
            f"Bench {label}: {base} {_fmt(metrics, f'bench.{task}.{base}{seg}.score', '.1%')}"
            f" -> {after} {_fmt(metrics, f'bench.{task}.{after}{seg}.score', '.1%')},"
            f" delta {_fmt(metrics, name, '+.1f')} pp (paired {confidence:.0%} CI [{low}, {high}])"
        )
    return lines


def cl_lines(metrics: dict[str, Any]) -> list[str]:
    """The continual-learning matrix's headline per condition: ACC, BWT and forgetting."""
    lines = []
    for cond in ("naive", "frozen", "modular"):
        stem = f"cl.{cond}"
        if f"{stem}.acc" in metrics:
            lines.append(
                f"  {cond:<8} ACC {_fmt(metrics, f'{stem}.acc', '.1%')}"
                f"  BWT {_fmt(metrics, f'{stem}.bwt', '+.3f')}"
                f"  forgetting {_fmt(metrics, f'{stem}.forgetting', '+.3f')}"
            )
    head = "Continual-learning matrix (QA accuracy after every phase, mean over seeds):"
    return [head, *lines] if lines else []


SMOKE_NOTE = (
    "Smoke run (--small: 2 seeds, a few training steps): it checks that every step runs; its "
    "numbers are not the method's effects (run `crma-eval demo` for those)."
)


def _qa_trivial(m: dict[str, Any]) -> bool:
    """True when no QA arm answered anything right (a smoke run's adapters barely trained)."""
    return not any(m.get(f"qa.{arm}.k") for arm in ("with_crma", "without_crma"))


def summary_lines(results: dict[str, Any], smoke: bool = False) -> list[str]:
    """A short console summary of a demo run's headline numbers (read from results.json).

    smoke: a `--small` run: says so first, and leaves out the QA and ablation lines when no QA
    answer was right (0 % vs 0 % would read as a broken CRMA, not as too little training)."""
    m, info = results["metrics"], catalogue(results)
    lines = [SMOKE_NOTE] if smoke else []
    lines.append("Forgetting (loss-relative drift, %, mean ± std over seeds):")
    for cond in ("naive", "frozen", "modular"):
        mean, std = _fmt(m, f"drift.{cond}.drift.mean"), _fmt(m, f"drift.{cond}.drift.std")
        holdout = _fmt(m, f"drift.{cond}.holdout.mean", ".4f")
        lines.append(f"  {cond:<8} drift {mean:>8} ± {std:<6}  final holdout {holdout}")
    adv = _fmt(m, "drift.modular_over_frozen.advantage.mean")
    lines.append(f"  MODULAR learning advantage over FROZEN: {adv} %")
    if smoke and _qa_trivial(m):
        lines.append("QA and CRMA ablation: not shown, no QA answer right after the smoke training")
        return lines + _rest_lines(results)
    for arm in ("with_crma", "without_crma"):  # both limited to MODULAR in the demo config
        acc = m.get(f"qa.{arm}.accuracy")
        if acc is not None:
            lo, hi = m[f"qa.{arm}.ci_low"], m[f"qa.{arm}.ci_high"]
            label = interval_label(info.get(f"qa.{arm}.ci_low"))
            lines.append(f"QA {arm} (MODULAR): {acc:.1%} [{lo:.1%}, {hi:.1%}] ({label})")
    stem = "ablation.with_crma_vs_without_crma"
    p = m.get(f"{stem}.pvalue")
    if p is not None:
        lines.append(
            f"CRMA ablation, with - without: {_fmt(m, f'{stem}.diff', '+.1%')}"
            f" (b = {_fmt(m, f'{stem}.b', '.0f')}, c = {_fmt(m, f'{stem}.c', '.0f')}), p = {p:.3g}"
        )
    return lines + _rest_lines(results)


def _rest_lines(results: dict[str, Any]) -> list[str]:
    """Router, spectral and bench lines of the summary."""
    m = results["metrics"]
    lines = cl_lines(m)
    lines.append(f"Router accuracy (all categories): {_fmt(m, 'router.overall.accuracy', '.1%')}")
    lines.append(f"Router accuracy (in-domain): {_fmt(m, 'router.in_domain.accuracy', '.1%')}")
    lines.append(f"Max |sigma_max - 1| of CRMA mixing: {_fmt(m, 'spectral.all.max_dev', '.2e')}")
    confidence = results.get("meta", {}).get("options", {}).get("confidence", 0.95)
    return lines + bench_lines(m, confidence)


def run_demo(out: Path, *, small: bool = False, quiet: bool = False) -> str:
    """Train the demo checkpoints under OUT/build, evaluate into OUT; return a console summary."""
    from crma_eval.demo.build import build_demo

    started = time.perf_counter()
    seeds = (0, 1) if small else (0, 1, 2)
    size = "small" if small else "full"
    artifacts = build_demo(out / "build", seeds=seeds, size=size, quiet=quiet)
    built = time.perf_counter()
    config = load_config(artifacts.config_path)
    outcome = run_config(config, out, quiet=quiet)
    done = time.perf_counter()
    results = json.loads(outcome.run_dir.results_path.read_text(encoding="utf-8"))
    lines = summary_lines(results, smoke=small)
    lines.append(f"Build + training {built - started:.0f} s, evaluation {done - built:.0f} s")
    lines.append(f"Report: {outcome.run_dir.report_path}")
    return "\n".join(lines)
