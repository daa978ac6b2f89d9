"""TensorBoard export: event files under `OUT/<run>-<8 hex>` (one TensorBoard run per crma-eval
run; the hex is of the resolved run folder's path, so runs with one name stay apart).

Scalars at step 0: each metric under its results.json name, its interval bounds and n under
`<name>/ci_low`, `<name>/ci_high`, `<name>/n`. A text summary `crma_eval/summary`: a Markdown
table of metric, value, interval, n, unit and interval method (cells escaped: names are data).
Written with tensorboardX's `SummaryWriter` (no torch, no TensorFlow); read with TensorBoard.
"""

from __future__ import annotations

import re
from pathlib import Path

from crma_eval.export.names import path_tag
from crma_eval.export.rows import MetricRow

_MD = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>&])")


def _cell(value: object) -> str:
    """A Markdown table cell showing `value` literally (no markup, no HTML, one line)."""
    text = "" if value is None else str(value)
    return _MD.sub(r"\\\1", " ".join(text.split()))


def summary_markdown(rows: list[MetricRow]) -> str:
    """The text summary: one Markdown table row per metric."""
    head = "| metric | value | ci_low | ci_high | n | unit | interval |\n" + "|---" * 7 + "|"
    lines = [
        "| " + " | ".join(_cell(v) for v in (
            r.name, f"{r.value:.6g}", r.ci_low, r.ci_high, r.n, r.unit, r.interval or r.method
        )) + " |"
        for r in rows
    ]  # fmt: skip
    return "\n".join([head, *lines])


def run_folder(name: str) -> str:
    """A folder name for the run: its name with anything but letters, digits, `._-` as `_`."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "run"


def unique_folder(name: str, run_dir: Path) -> str:
    """`run_folder(name)` plus 8 hex of the sha256 of the resolved run path (names.path_tag):
    two runs with one name (two `reports/analysis`, two non-ASCII names that sanitize alike)
    get separate TensorBoard runs instead of merged events."""
    return f"{run_folder(name)}-{path_tag(run_dir)}"


def export_tensorboard(rows: list[MetricRow], name: str, out: Path, run_dir: Path) -> Path:
    """Write the event file under `out/<unique folder>`; returns that folder."""
    from tensorboardX import SummaryWriter

    logdir = out / unique_folder(name, run_dir)
    writer = SummaryWriter(logdir=str(logdir))
    try:
        for row in rows:
            writer.add_scalar(row.name, row.value, 0)
            for part in ("ci_low", "ci_high", "n"):
                value = getattr(row, part)
                if value is not None:
                    writer.add_scalar(f"{row.name}/{part}", float(value), 0)
        writer.add_text("crma_eval/summary", summary_markdown(rows), 0)
    finally:
        writer.close()
    return logdir
