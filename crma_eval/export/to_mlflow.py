"""MLflow export: one MLflow run per crma-eval run, in a local file store or MLFLOW_TRACKING_URI.

Metrics: each metric's value under its (sanitized, `crma_eval.export.names`) name, and its
interval and n as their own metrics `<name>.ci_low`, `<name>.ci_high`, `<name>.n` (step 0).
Params: `context.run_context` (config fingerprint, base models, checkpoints, options). Tags: the
run's name, schema and crma-eval version. Artifacts: results.json, report.html and
`crma_eval_metrics.json` (every row with its MLflow keys, interval method and unit). Uses
`mlflow.MlflowClient` (library: mlflow / mlflow-skinny). MLflow 3 keeps the file store in
maintenance mode behind `MLFLOW_ALLOW_FILE_STORE=true`, which the export sets for a `--out`
folder or a `file:` MLFLOW_TRACKING_URI; for an http(s) server it bounds retries and timeout
(HTTP_DEFAULTS, unless set); store errors exit 2 with one line.
"""

from __future__ import annotations

import importlib.util
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from crma_eval.errors import InputError
from crma_eval.export.context import RunContext
from crma_eval.export.names import safe_names
from crma_eval.export.rows import MetricRow

MAX_PARAM_VALUE = 6000
BATCH = 100  # MLflow's per-request limit on params and tags (metrics: 1000)


# Defaults for a tracking server that does not answer (set only when the user did not set them):
# MLflow's own are 7 retries with backoff factor 2 and a 120 s timeout, minutes of silence.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}
DATABASE_SCHEMES = ("sqlite", "postgresql", "mysql", "mssql")


def tracking_uri(out: Path | None) -> str:
    """`file:` URI of `out`, else MLFLOW_TRACKING_URI; InputError when neither is given."""
    if out is not None:
        return out.resolve().as_uri()
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        raise InputError("the mlflow export needs --out DIR or MLFLOW_TRACKING_URI")
    return uri


def _scheme(uri: str) -> str:
    head, sep, _ = uri.partition(":")
    return head.split("+")[0].lower() if sep and len(head) > 1 else "file"


def prepare_environment(uri: str) -> None:
    """Environment MLflow needs for `uri`: the file store allowed for `file:` URIs and local
    paths; bounded retries and timeout for an http(s) server (HTTP_DEFAULTS, only where unset).

    InputError (exit 2) naming what to install for a database store without full mlflow.
    """
    scheme = _scheme(uri)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    if scheme == "file":
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    elif scheme in ("http", "https"):
        for key, value in HTTP_DEFAULTS.items():
            os.environ.setdefault(key, value)
    elif scheme in DATABASE_SCHEMES and importlib.util.find_spec("sqlalchemy") is None:
        raise InputError(
            f"the tracking URI {uri!r} names a database store, which mlflow-skinny cannot "
            "write: pip install mlflow (or use --out DIR or a file:/http: URI)"
        )


def explain(exc: Exception, uri: str) -> InputError:
    """One line for an MlflowException (or a connection error) from the store at `uri`."""
    text = " ".join(str(exc).split())
    if _scheme(uri) in ("http", "https") and (
        "Max retries" in text or "onnection" in text or "timed out" in text.lower()
    ):
        return InputError(
            f"cannot reach the MLflow server at {uri} ({type(exc).__name__}); start it or fix "
            "MLFLOW_TRACKING_URI"
        )
    if _scheme(uri) in DATABASE_SCHEMES and "Model registry" in text:
        return InputError(f"the database store {uri!r} needs full mlflow: pip install mlflow")
    return InputError(f"MLflow could not write to {uri}: {text[:300]}")


def metric_values(rows: list[MetricRow]) -> tuple[dict[str, float], dict[str, dict[str, Any]]]:
    """({mlflow key: value}, {metric name: its row with the keys}) of every row, its interval
    bounds and n as separate keys."""
    wanted = []
    for row in rows:
        wanted += [row.name, f"{row.name}.ci_low", f"{row.name}.ci_high", f"{row.name}.n"]
    keys = safe_names(wanted)
    values: dict[str, float] = {}
    table: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry: dict[str, Any] = {"value": row.value, "key": keys[row.name]}
        values[keys[row.name]] = row.value
        for part in ("ci_low", "ci_high", "n"):
            number = getattr(row, part)
            if number is not None:
                values[keys[f"{row.name}.{part}"]] = float(number)
                entry[f"{part}_key"] = keys[f"{row.name}.{part}"]
            entry[part] = number
        entry.update(unit=row.unit, interval=row.interval, method=row.method)
        table[row.name] = entry
    return values, table


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def export_mlflow(
    rows: list[MetricRow], ctx: RunContext, out: Path | None, experiment: str
) -> tuple[str, str]:
    """Log one run; returns (tracking URI, run id).

    InputError (exit 2, one line) when no store is named, the store cannot be written (an
    MlflowException) or the server cannot be reached.
    """
    uri = tracking_uri(out)
    prepare_environment(uri)
    from mlflow.exceptions import MlflowException
    from requests.exceptions import RequestException

    try:
        return uri, _log_run(uri, rows, ctx, experiment)
    except (MlflowException, RequestException) as exc:
        raise explain(exc, uri) from exc


def _log_run(uri: str, rows: list[MetricRow], ctx: RunContext, experiment: str) -> str:
    """Create the experiment if needed and log one run to `uri`; returns its run id."""
    from mlflow import MlflowClient
    from mlflow.entities import Metric, Param, RunTag

    client = MlflowClient(tracking_uri=uri)
    found = client.get_experiment_by_name(experiment)
    exp_id = found.experiment_id if found else client.create_experiment(experiment)
    run = client.create_run(exp_id, run_name=ctx.name, tags=ctx.tags)
    run_id = run.info.run_id
    values, table = metric_values(rows)
    names = safe_names(list(ctx.params))
    stamp = int(time.time() * 1000)
    metrics = [Metric(k, v, stamp, 0) for k, v in values.items()]
    params = [Param(names[k], v[:MAX_PARAM_VALUE]) for k, v in ctx.params.items()]
    for part in _chunks(metrics, 1000):
        client.log_batch(run_id, metrics=part)
    for part in _chunks(params, BATCH):
        client.log_batch(run_id, params=part)
    for path in ctx.files:
        client.log_artifact(run_id, str(path))
    with tempfile.TemporaryDirectory() as tmp:
        mapping = Path(tmp) / "crma_eval_metrics.json"
        mapping.write_text(json.dumps(table, indent=1, allow_nan=False), encoding="utf-8")
        client.log_artifact(run_id, str(mapping))
    client.log_batch(run_id, tags=[RunTag("crma_eval.n_metrics", str(len(rows)))])
    client.set_terminated(run_id)
    return run_id
