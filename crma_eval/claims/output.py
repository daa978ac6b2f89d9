"""Claims outcomes as a console table (rich), JSON, a Markdown summary, claims.json and a report
section (crma_eval.api.blocks)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from crma_eval.api.blocks import KeyValues, Paragraph, Section, Table
from crma_eval.atomicio import write_text_atomic
from crma_eval.claims.check import VERDICTS, Outcome
from crma_eval.derived import FINGERPRINT, is_current, results_fingerprint
from crma_eval.naming import markdown_cell
from crma_eval.results import CLAIMS_JSON

CLAIMS_SCHEMA = "crma_eval.claims/1"
_STYLE = {"reproduced": "green", "not_checkable": "yellow"}


def _numbers(values: dict[str, Any]) -> str:
    """`{value: x}` as `x`, `{low, high}` as `[low, high]`, else `name=x, ...` (5 significant;
    strings, such as printed texts, as they are)."""
    if not values:
        return ""
    fmt = {k: (f"{v:.5g}" if isinstance(v, float) else str(v)) for k, v in values.items()}
    if set(fmt) == {"value"}:
        return fmt["value"]
    if set(fmt) >= {"low", "high"}:
        rest = ", ".join(f"{k}={v}" for k, v in fmt.items() if k not in ("low", "high"))
        interval = f"[{fmt['low']}, {fmt['high']}]"
        return f"{rest} {interval}" if rest else interval
    return ", ".join(f"{k}={v}" for k, v in fmt.items())


def _row(outcome: Outcome) -> list[str]:
    verdict = outcome.verdict
    if outcome.verdict == "method_mismatch" and outcome.method:
        verdict += f" ({outcome.method})"
    return [
        outcome.claim.id,
        verdict,
        _numbers({name: p.text for name, p in outcome.claim.printed.items()}),
        _numbers(outcome.recomputed),
        outcome.detail,
    ]


COLUMNS = ["claim", "verdict", "printed", "recomputed", "detail"]


def tally(outcomes: Sequence[Outcome]) -> str:
    """'12 claims: 9 reproduced, 2 differs, 1 impossible' (verdicts in a fixed order)."""
    counts = Counter(o.verdict for o in outcomes)
    parts = [f"{counts[v]} {v}" for v in VERDICTS if counts[v]]
    return f"{len(outcomes)} claims: " + ", ".join(parts)


def print_table(outcomes: Sequence[Outcome]) -> None:
    """Print the outcomes as a rich table on stdout, then the tally."""
    from rich.console import Console
    from rich.table import Table as RichTable

    table = RichTable(*COLUMNS, show_lines=False)
    for outcome in outcomes:
        cells = _row(outcome)
        style = _STYLE.get(outcome.verdict, "red")
        table.add_row(cells[0], f"[{style}]{cells[1]}[/{style}]", *cells[2:])
    console = Console(width=160)
    console.print(table)
    console.print(tally(outcomes))


def to_json(outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    """The outcomes as a JSON-ready list (id, verdict, printed, recomputed, method, ...)."""
    return [o.to_dict() for o in outcomes]


def markdown(outcomes: Sequence[Outcome], source: str) -> str:
    """A Markdown summary for CI pages: the tally, then a table of every claim not reproduced."""
    lines = [f"## Claims check: {source}", "", tally(outcomes), ""]
    failed = [o for o in outcomes if o.verdict != "reproduced"]
    if failed:
        lines += ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
        lines += ["| " + " | ".join(markdown_cell(c) for c in _row(o)) + " |" for o in failed]
    else:
        lines.append("Every claim is reproduced at its printed precision.")
    return "\n".join(lines) + "\n"


def write_claims_json(run_dir: str | Path, outcomes: Sequence[Outcome], source: str) -> Path:
    """Write RUN_DIR/claims.json atomically: {schema, source, claims: [...], results_sha256}."""
    doc = {
        "schema": CLAIMS_SCHEMA,
        "source": source,
        "claims": to_json(outcomes),
        FINGERPRINT: results_fingerprint(run_dir),
    }
    return write_text_atomic(Path(run_dir) / CLAIMS_JSON, json.dumps(doc, indent=2) + "\n")


def claims_section(run_dir: str | Path) -> Section | None:
    """The report's "Claims" section from RUN_DIR/claims.json; None when there is no such file.

    An unreadable claims.json gives a section saying so rather than disappearing.
    """
    path = Path(run_dir) / CLAIMS_JSON
    if not path.is_file():
        return None
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        claims = doc["claims"]
        rows = [_section_row(c) for c in claims]
        current = is_current(doc, run_dir)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        problem = f"{CLAIMS_JSON} could not be read ({exc.__class__.__name__}); rerun `claims`."
        return Section("claims", "Claims", [Paragraph(problem)])
    if not current:
        problem = (
            f"{CLAIMS_JSON} was checked against an earlier results.json (its results_sha256 "
            "differs), so its verdicts are not shown; rerun `claims`."
        )
        return Section("claims", "Claims", [Paragraph(problem)])
    counts = Counter(row[1].split(" ")[0] for row in rows)
    headline = KeyValues([(v, counts[v]) for v in VERDICTS if counts[v]], "Verdicts")
    caption = f"Printed numbers of {doc.get('source', 'the claims file')} against this run."
    return Section(
        "claims",
        "Claims",
        [headline, Table(COLUMNS, rows, caption=caption)],
        definitions=[
            (
                "Claims check",
                "Each printed number is recomputed (from this run's metrics or the counts and "
                "values the claim states) with the project's statistics and compared at the "
                "precision it is printed to (99.5 stands for [99.45, 99.55]).",
            )
        ],
    )


def _section_row(claim: dict[str, Any]) -> list[str]:
    verdict = str(claim["verdict"])
    if verdict == "method_mismatch" and claim.get("method"):
        verdict += f" ({claim['method']})"
    return [
        str(claim["id"]),
        verdict,
        _numbers(claim.get("printed") or {}),
        _numbers(claim.get("recomputed") or {}),
        str(claim.get("detail", "")),
    ]
