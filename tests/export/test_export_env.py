"""Export environments: MLflow stores named by MLFLOW_TRACKING_URI (file:, database, an
unreachable server) give a run or one exit-2 line; TensorBoard runs with one name stay apart."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from crma_eval.atomicio import write_jsonl
from crma_eval.cli import cli

QA = [
    {"kind": "qa", "arm": arm, "domain": "med", "item_id": f"m-{i}", "correct": (i + k) % 3 != 0}
    for k, arm in enumerate(("with_crma", "without_crma"))
    for i in range(8)
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in (
        "MLFLOW_TRACKING_URI",
        "MLFLOW_ALLOW_FILE_STORE",
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
        "MLFLOW_HTTP_REQUEST_TIMEOUT",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")


def _analyze(root: Path) -> Path:
    records = write_jsonl(root / "qa.jsonl", QA)
    result = CliRunner().invoke(cli, ["analyze", str(records), "--out", str(root / "analysis")])
    assert result.exit_code == 0, result.output
    return root / "analysis"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _analyze(tmp_path_factory.mktemp("env"))


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_file_uri_from_env_needs_no_allow_flag(run_dir: Path, tmp_path: Path, monkeypatch) -> None:
    from mlflow import MlflowClient

    uri = (tmp_path / "store").as_uri()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--to", "mlflow"])
    assert result.exit_code == 0, result.output
    client = MlflowClient(tracking_uri=uri)
    (run,) = client.search_runs([client.get_experiment_by_name("crma-eval").experiment_id])
    assert run.data.metrics["qa.with_crma.med.accuracy.n"] == 8


def test_unreachable_server_exits_2_in_seconds(run_dir: Path, monkeypatch) -> None:
    uri = f"http://127.0.0.1:{_closed_port()}/"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")  # user-set: kept
    start = time.monotonic()
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--to", "mlflow"])
    assert time.monotonic() - start < 30
    assert result.exit_code == 2, result.output
    assert f"cannot reach the MLflow server at {uri}" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "0"
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2"


def test_database_store_without_full_mlflow_names_what_to_install(
    run_dir: Path, tmp_path: Path, monkeypatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "sqlalchemy" else real(n, *a)
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'm.db'}")
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--to", "mlflow"])
    assert result.exit_code == 2, result.output
    assert "pip install mlflow" in result.output and "Traceback" not in result.output


def test_store_errors_are_one_line_exit_2(run_dir: Path, tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x", encoding="utf-8")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", (blocker / "store").as_uri())
    result = CliRunner().invoke(cli, ["export", str(run_dir), "--to", "mlflow"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_tensorboard_runs_with_one_name_get_separate_folders(tmp_path: Path) -> None:
    a, b = _analyze(tmp_path / "a"), _analyze(tmp_path / "b")  # both named "analysis"
    out = tmp_path / "tb"
    printed = []
    for run in (a, b):
        result = CliRunner().invoke(
            cli, ["export", str(run), "--to", "tensorboard", "--out", str(out)]
        )
        assert result.exit_code == 0, result.output
        printed.append(result.output)
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(folders) == 2 and all(f.name.startswith("analysis-") for f in folders)
    assert all(any(str(f) in text for text in printed) for f in folders)
    assert all(len(list(f.iterdir())) == 1 for f in folders)  # one event file each
