"""Hugging Face export: model-index metadata (`huggingface_hub.EvalResult`) in a model card.

Writes `OUT/README.md` (a model card whose YAML front matter holds `model-index`; push it with
the model, or merge its metadata into the card you have) and `OUT/.eval_results/<run>.yaml` (the
same results as a plain list). Each result: task type = plugin, dataset = the metric's middle
segments, metric type = its last segment, metric name = the full metric name, `metric_args` =
`{ci_low, ci_high, n, method}`, metric config = the run's name. Nothing is uploaded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from crma_eval.export.rows import MetricRow
from crma_eval.store import write_text_atomic


def _eval_result(row: MetricRow, run: str) -> Any:
    from huggingface_hub import EvalResult

    middle = row.name.split(".")[1:-1]
    return EvalResult(
        task_type=row.plugin,
        dataset_type=f"crma-eval/{row.plugin}",
        dataset_name=".".join(middle) or row.plugin,
        metric_type=row.name.rsplit(".", 1)[-1],
        metric_value=row.value,
        metric_name=row.name,
        metric_args=_args(row),
        metric_config=run,
    )


def _args(row: MetricRow) -> dict[str, Any]:
    return {"ci_low": row.ci_low, "ci_high": row.ci_high, "n": row.n, "method": row.method}


def export_hf(rows: list[MetricRow], run: str, out: Path) -> list[Path]:
    """Write the model card and the .eval_results file under `out`; returns both paths."""
    from huggingface_hub import ModelCard, ModelCardData

    results = [_eval_result(r, run) for r in rows]
    data = ModelCardData(model_name=run, eval_results=results)
    card = ModelCard(f"---\n{data.to_yaml()}\n---\n\n# {run}\n\nEvaluated with crma-eval.\n")
    plain = [{"metric": r.name, "value": r.value, **_args(r)} for r in rows]
    return [
        write_text_atomic(out / "README.md", str(card)),
        write_text_atomic(
            out / ".eval_results" / f"{run}.yaml", yaml.safe_dump(plain, sort_keys=False)
        ),
    ]
