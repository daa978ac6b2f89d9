"""Re-analysing into a folder never shows outputs derived from its earlier results.json."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from crma_eval.atomicio import write_jsonl
from crma_eval.cli import cli
from crma_eval.store import file_sha256


def _qa(arms: tuple[str, ...], domains: tuple[str, ...]) -> list[dict]:
    return [
        {"kind": "qa", "arm": arm, "domain": dom, "item_id": f"{dom}-{i}", "correct": i % 3 != 0}
        for arm in arms
        for dom in domains
        for i in range(9)
    ]


def _invoke(*args: str) -> str:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code in (0, 1), result.output
    return result.output


def _files(root: Path, folder: str) -> set[str]:
    return {p.name for p in (root / folder).glob("*")} if (root / folder).is_dir() else set()


def test_reanalysis_drops_gate_claims_and_old_tables(tmp_path: Path) -> None:
    old = write_jsonl(tmp_path / "old.jsonl", _qa(("with_crma", "without_crma"), ("med", "law")))
    new = write_jsonl(tmp_path / "new.jsonl", _qa(("solo",), ("art",)))
    run = tmp_path / "run"
    _invoke("analyze", str(old), "--out", str(run))
    gates = tmp_path / "gates.yaml"
    gates.write_text("gates:\n  - {metric: qa.with_crma.med.accuracy, min: 0.1}\n", "utf-8")
    claims = tmp_path / "claims.yaml"
    claims.write_text("claims:\n  - {id: c, metric: qa.with_crma.med.accuracy, printed: 0.67}\n")
    _invoke("gate", str(run), "--spec", str(gates))
    _invoke("claims", str(claims), str(run))
    gate_doc = json.loads((run / "gate.json").read_text("utf-8"))
    assert gate_doc["results_sha256"] == file_sha256(run / "results.json")
    claims_doc = json.loads((run / "claims.json").read_text("utf-8"))
    assert claims_doc["results_sha256"] == file_sha256(run / "results.json")
    old_tables = _files(run, "tables")
    stale = {n for n in old_tables | _files(run, "items") if n.startswith(("ablation", "claims"))}
    assert stale  # two arms: an ablation table and list; a claims table

    _invoke("analyze", str(new), "--out", str(run))
    for name in ("gate.json", "junit.xml", "summary.md", "claims.json"):
        assert not (run / name).exists(), name
    html = (run / "report.html").read_text("utf-8")
    assert "qa.with_crma.med.accuracy" not in html
    assert '<p class="gate-verdict">' not in html
    assert not stale & (_files(run, "tables") | _files(run, "items"))
    assert _files(run, "tables")  # the new report's own tables were written
    assert not (run / ".exports.staging").exists()


def test_report_ignores_gate_and_claims_of_other_results(tmp_path: Path) -> None:
    records = write_jsonl(tmp_path / "qa.jsonl", _qa(("a", "b"), ("x",)))
    run = tmp_path / "run"
    _invoke("analyze", str(records), "--out", str(run))
    gates = tmp_path / "gates.yaml"
    gates.write_text("gates:\n  - {metric: qa.a.x.accuracy, min: 0.99}\n", "utf-8")
    claims = tmp_path / "claims.yaml"
    claims.write_text("claims:\n  - {id: planted-claim, metric: qa.a.x.accuracy, printed: 0.1}\n")
    _invoke("gate", str(run), "--spec", str(gates))
    _invoke("claims", str(claims), str(run))
    html = (run / "report.html").read_text("utf-8")
    assert '<p class="gate-verdict">' in html and "planted-claim" in html
    doc = json.loads((run / "results.json").read_text("utf-8"))
    doc["meta"]["edited"] = True  # results.json replaced by other means than analyze
    (run / "results.json").write_text(json.dumps(doc), "utf-8")
    _invoke("report", str(run))
    html = (run / "report.html").read_text("utf-8")
    assert '<p class="gate-verdict">' not in html and "gate.json was written for an earlier" in html
    assert "planted-claim" not in html and "claims.json was checked against an earlier" in html


def test_reanalysis_without_a_report_leaves_no_old_report(tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = write_jsonl(tmp_path / "first.jsonl", _qa(("planted_arm",), ("med",)))
    said = _invoke("analyze", str(first), "--out", str(run))
    assert f"report:  {run / 'report.html'}" in said
    assert "planted_arm" in (run / "report.html").read_text("utf-8")
    second = write_jsonl(tmp_path / "second.jsonl", _qa(("solo",), ("art",)))
    said = _invoke("analyze", str(second), "--out", str(run), "--no-report")
    assert "report:" not in said and "results:" in said
    assert "solo" in (run / "results.json").read_text("utf-8")
    assert not (run / "report.html").exists()  # it showed the first results
    assert not _files(run, "tables")


def test_reanalysis_drops_the_default_comparison_folder(tmp_path: Path) -> None:
    first = write_jsonl(tmp_path / "first.jsonl", _qa(("a",), ("med",)))
    base, run = tmp_path / "base", tmp_path / "run"
    _invoke("analyze", str(first), "--out", str(base), "--no-report")
    _invoke("analyze", str(first), "--out", str(run), "--no-report")
    _invoke("compare", str(base), str(run))
    assert (run / "compare").is_dir()
    second = write_jsonl(tmp_path / "second.jsonl", _qa(("b",), ("art",)))
    _invoke("analyze", str(second), "--out", str(run), "--no-report")
    assert not (run / "compare").exists()  # it compared the first results
