"""`crma-eval export RUN_DIR --to TARGET --out DIR`: a run's metrics where teams track results.

Every exported metric carries its interval (`ci_low`, `ci_high`), `n` and the method its plugin
names in results.json `meta.methods`, when the run has them (`rows`). Targets: `hf` (Hugging Face
model-index metadata in a model card, `DIR/README.md`, plus `DIR/.eval_results/<run>.yaml`),
`mlflow` (`to_mlflow`: a run in a file store), `wandb` (`to_wandb`: an offline run), `tensorboard`
(`to_tensorboard`: event files). Nothing goes over the network unless MLFLOW_TRACKING_URI names a
server.
"""

from __future__ import annotations

from crma_eval.export.rows import MetricRow, metric_rows

__all__ = ["MetricRow", "metric_rows"]
