"""`crma-eval export --to mlflow|wandb|tensorboard`, each read back with its own library."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from crma_eval.atomicio import write_jsonl
from crma_eval.cli import cli
from crma_eval.export.names import safe_name, safe_names

QA = [
    {"kind": "qa", "arm": arm, "domain": dom, "item_id": f"{dom}-{i}", "correct": (i + k) % 3 != 0}
    for k, arm in enumerate(("with_crma", "without_crma"))
    for dom in ("med", "law")
    for i in range(12)
]
ACC = "qa.with_crma.med.accuracy"
DIFF = "ablation.with_crma_vs_without_crma.diff"


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("WANDB_API_KEY", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.setenv("DO_NOT_TRACK", "1")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("export")
    records = write_jsonl(root / "qa.jsonl", QA)
    out = root / "run"
    result = CliRunner().invoke(cli, ["analyze", str(records), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def _results(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / "results.json").read_text())


def _export(run_dir: Path, target: str, *extra: str) -> str:
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--to", target, *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_mlflow_file_store_reads_back_with_intervals_n_params_and_artifacts(
    run_dir, tmp_path
) -> None:
    from mlflow import MlflowClient

    _export(run_dir, "mlflow", "--out", str(tmp_path / "mlruns"), "--project", "exp")
    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    exp = client.get_experiment_by_name("exp")
    (run,) = client.search_runs([exp.experiment_id])
    got, want = run.data.metrics, _results(run_dir)["metrics"]
    assert got[ACC] == pytest.approx(want[ACC])
    assert got[f"{ACC}.ci_low"] == pytest.approx(want["qa.with_crma.med.ci_low"])
    assert got[f"{ACC}.ci_high"] == pytest.approx(want["qa.with_crma.med.ci_high"])
    assert got[f"{ACC}.n"] == 12
    assert got[f"{DIFF}.ci_low"] == pytest.approx(want[f"{DIFF}_ci_low"])
    assert got[f"{DIFF}.n"] == 24
    assert not any(k.endswith(("_ci_low", "_ci_high")) for k in got)  # bounds folded in
    assert run.info.run_name == run_dir.name
    assert "option.ci_method" in run.data.params
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"results.json", "report.html", "crma_eval_metrics.json"} <= artifacts
    path = client.download_artifacts(run.info.run_id, "crma_eval_metrics.json", str(tmp_path))
    table = json.loads(Path(path).read_text())
    assert table[ACC]["key"] == ACC and "Wilson" in table[ACC]["interval"]


def test_mlflow_without_out_or_tracking_uri_is_bad_input(run_dir) -> None:
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--to", "mlflow"])
    assert result.exit_code == 2 and "MLFLOW_TRACKING_URI" in result.output


def test_mlflow_honours_tracking_uri_from_env(run_dir, tmp_path, monkeypatch) -> None:
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (tmp_path / "env").as_uri())
    _export(run_dir, "mlflow")
    client = MlflowClient(tracking_uri=(tmp_path / "env").as_uri())
    (run,) = client.search_runs([client.get_experiment_by_name("crma-eval").experiment_id])
    assert run.data.metrics[f"{ACC}.n"] == 12


def test_names_are_sanitized_distinct_and_bounded() -> None:
    names = ["qa.a:b", "qa.a;b", "qa.ok", "x" * 300, "qa..up", "/abs"]
    safe = safe_names(names)
    assert safe["qa.ok"] == "qa.ok"
    assert len(set(safe.values())) == len(names)
    for value in safe.values():
        assert len(value) <= 250 and ".." not in value and not value.startswith("/")
        assert all(c.isalnum() or c in "_.-/ " for c in value)
    assert safe_name("qa.a:b") != "qa.a_b"  # changed names carry a hash of the original


def _wandb_records(path: Path) -> list[Any]:
    """Records of a .wandb file: W&B's LevelDB-log framing (7-byte file header, 32 KiB blocks of
    checksum/length/type-framed chunks), each payload a `wandb.proto` Record."""
    from wandb.proto import wandb_internal_pb2 as pb

    data, out, pos, chunk = path.read_bytes(), [], 7, b""
    assert data[:4] == b":W&B"
    while pos + 7 <= len(data):
        if 32768 - pos % 32768 < 7:
            pos += 32768 - pos % 32768
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):  # FULL, LAST
            record = pb.Record()
            record.ParseFromString(chunk)
            out.append(record)
            chunk = b""
        elif kind == 0:
            break
    return out


def test_wandb_offline_run_reads_back_with_summary_table_and_no_key(
    run_dir, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("WANDB_API_KEY", "secret-key-never-written-0123456789abcdef")
    _export(run_dir, "wandb", "--out", str(tmp_path))
    (wandb_file,) = tmp_path.glob("wandb/offline-run-*/run-*.wandb")
    summary: dict[str, Any] = {}
    for record in _wandb_records(wandb_file):
        if record.WhichOneof("record_type") == "summary":
            for item in record.summary.update:
                summary[item.key or "/".join(item.nested_key)] = json.loads(item.value_json)
    want = _results(run_dir)["metrics"]
    assert summary[ACC] == pytest.approx(want[ACC])
    assert summary[f"{ACC}/ci_low"] == pytest.approx(want["qa.with_crma.med.ci_low"])
    assert summary[f"{ACC}/ci_high"] == pytest.approx(want["qa.with_crma.med.ci_high"])
    assert summary[f"{ACC}/n"] == 12
    (table_file,) = tmp_path.glob("wandb/offline-run-*/files/media/table/crma_eval/*.json")
    table = json.loads(table_file.read_text())
    rows = {row[0]: dict(zip(table["columns"], row, strict=True)) for row in table["data"]}
    assert rows[DIFF]["n"] == 24
    assert rows[DIFF]["ci_high"] == pytest.approx(want[f"{DIFF}_ci_high"])
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert b"secret-key-never-written" not in path.read_bytes(), path


def test_tensorboard_events_read_back_with_bounds_n_and_text_summary(run_dir, tmp_path) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    _export(run_dir, "tensorboard", "--out", str(tmp_path))
    (logdir,) = tmp_path.glob(f"{run_dir.name}-*")
    acc = EventAccumulator(str(logdir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    want = _results(run_dir)["metrics"]

    def scalar(tag: str) -> float:
        return acc.Scalars(tag)[0].value

    assert scalar(ACC) == pytest.approx(want[ACC], rel=1e-6)
    assert scalar(f"{ACC}/ci_low") == pytest.approx(want["qa.with_crma.med.ci_low"], rel=1e-6)
    assert scalar(f"{ACC}/ci_high") == pytest.approx(want["qa.with_crma.med.ci_high"], rel=1e-6)
    assert scalar(f"{ACC}/n") == 12
    assert scalar(f"{DIFF}/ci_low") == pytest.approx(want[f"{DIFF}_ci_low"], rel=1e-6)
    (text_tag,) = [t for t in acc.Tags()["tensors"] if t.startswith("crma_eval/summary")]
    text = acc.Tensors(text_tag)[0].tensor_proto.string_val[0].decode()
    assert "Wilson score 95% CI" in text and "12" in text


def test_a_missing_library_names_the_extra(run_dir, tmp_path, monkeypatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a)
    )
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--to", "wandb", "--out", "x"])
    assert result.exit_code == 2
    assert "pip install 'crma-eval[wandb]'" in result.output


def test_rows_take_bounds_and_n_from_the_catalogue_not_the_names() -> None:
    from crma_eval.export.rows import metric_rows

    bound = {"role": "interval_bound", "estimand": "b", "of": "p.a.score", "method": "wilson"}
    results = {
        "metrics": {"p.a.score": 0.5, "p.a.lower": 0.1, "p.a.upper": 0.9},
        "meta": {
            "metric_info": {
                "p.a.score": {"role": "estimate", "estimand": "s", "n": 7, "unit": "item"},
                "p.a.lower": {**bound, "bound": "low", "n": 7, "unit": "item"},
                "p.a.upper": {**bound, "bound": "high", "n": 7, "unit": "item"},
            }
        },
    }
    (row,) = metric_rows(results)
    assert (row.name, row.ci_low, row.ci_high, row.n, row.unit) == (
        "p.a.score",
        0.1,
        0.9,
        7,
        "item",
    )
    assert row.interval is not None and "Wilson score" in row.interval


def test_tensorboard_summary_shows_untrusted_names_as_text() -> None:
    from crma_eval.export.rows import MetricRow
    from crma_eval.export.to_tensorboard import run_folder, summary_markdown

    text = summary_markdown([MetricRow("qa.<script>|x`y.acc", 0.5, None, None, 3, None)])
    assert "<script>" not in text and "\\<script\\>" in text and "\\|x\\`y" in text
    assert run_folder("../../etc") == "_.._etc" and "/" not in run_folder("a/b")


@pytest.mark.parametrize("reinit", ["default", "create_new"])
def test_wandb_export_leaves_the_callers_own_run_running(run_dir, tmp_path, reinit) -> None:
    import wandb

    mine = wandb.init(project="mine", dir=str(tmp_path / "mine"), mode="offline", reinit=reinit)
    current = wandb.run
    try:
        _export(run_dir, "wandb", "--out", str(tmp_path / "export"))
        assert wandb.run is current  # neither finished, replaced nor torn down by the export
        mine.log({"still_logging": 1.0})
    finally:
        mine.finish()
        wandb.teardown()
    (log,) = (tmp_path / "mine").glob("wandb/offline-run-*/run-*.wandb")
    kinds = {r.WhichOneof("record_type") for r in _wandb_records(log)}
    assert {"history", "exit"} <= kinds


def test_each_wandb_export_is_a_new_run_whatever_wandb_run_id_says(
    run_dir, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("WANDB_RUN_ID", "fixed1")
    _export(run_dir, "wandb", "--out", str(tmp_path))
    _export(run_dir, "wandb", "--out", str(tmp_path))
    folders = sorted(p.name for p in tmp_path.glob("wandb/offline-run-*"))
    assert len(folders) == 2 and not any(f.endswith("fixed1") for f in folders)
    assert folders[0].rsplit("-", 1)[1] != folders[1].rsplit("-", 1)[1]
