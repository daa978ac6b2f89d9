"""Benchmark: the project's number reader against Hugging Face math-verify on the same texts.

Texts: benchmarks/number_forms.jsonl (free-form model answers of every number-writing kind the
corrected GSM8K scorer reads, plus ambiguous ones whose right outcome is no answer). For each
reader: right (the value, or no answer where none is right), wrong (a value that is not the
answer: the costly error), abstained (no answer where one was right), and mean time per text.

- crma_eval: `extract_final_answer(text)`, compared with the expected canonical text.
- math-verify: `parse(text)` with its default extraction (LaTeX and plain expressions), compared
  with `verify(parse(expected), prediction)`; an empty parse is an abstention.

Reproduce: .venv/bin/python benchmarks/bench_number_readers.py [--repeat 3]
(needs `pip install math-verify`, which brings latex2sympy2_extended)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from crma_eval.plugins.bench.gsm8k import extract_final_answer

FORMS = Path(__file__).with_name("number_forms.jsonl")


def crma_outcome(text: str, expected: str | None) -> str:
    """right / wrong / abstained for crma_eval's reader."""
    got = extract_final_answer(text)
    if got is None:
        return "right" if expected is None else "abstained"
    return "right" if got == expected else "wrong"


def math_verify_outcome(text: str, expected: str | None) -> str:
    """right / wrong / abstained for math-verify's parse + verify."""
    from math_verify import parse, verify

    got = parse(text)
    if not got:
        return "right" if expected is None else "abstained"
    if expected is None:
        return "wrong"
    return "right" if verify(parse(f"${expected}$"), got) else "wrong"


def measure(outcome: Callable[[str, str | None], str], rows: list[dict], repeat: int) -> dict:
    """Outcome counts (overall and per kind) and mean seconds per text over `repeat` passes."""
    counts: Counter[str] = Counter()
    by_kind: dict[str, Counter[str]] = {}
    start = time.perf_counter()
    for _ in range(repeat):
        for row in rows:
            outcome(row["text"], row["answer"])
    seconds = (time.perf_counter() - start) / (repeat * len(rows))
    for row in rows:
        result = outcome(row["text"], row["answer"])
        counts[result] += 1
        by_kind.setdefault(row["kind"], Counter())[result] += 1
    return {"counts": counts, "by_kind": by_kind, "seconds_per_text": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rows = [json.loads(line) for line in FORMS.read_text(encoding="utf-8").splitlines()]
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    print(f"texts: {len(rows)} from {FORMS.name}; timing: mean over {args.repeat} passes")
    readers = [("crma_eval", crma_outcome)]
    try:
        import math_verify  # noqa: F401
    except ImportError:
        print("math-verify not installed (pip install math-verify): measuring crma_eval only")
    else:
        readers.append(("math-verify", math_verify_outcome))
    for name, outcome in readers:
        result = measure(outcome, rows, args.repeat)
        counts = result["counts"]
        print(
            f"{name:12s} right {counts['right']}/{len(rows)} ({counts['right'] / len(rows):.1%})"
            f"  wrong {counts['wrong']}  abstained {counts['abstained']}"
            f"  {result['seconds_per_text'] * 1000:.3f} ms/text"
        )
        for kind, kind_counts in result["by_kind"].items():
            total = sum(kind_counts.values())
            print(
                f"    {kind:14s} right {kind_counts['right']}/{total}  wrong {kind_counts['wrong']}"
            )


if __name__ == "__main__":
    main()
