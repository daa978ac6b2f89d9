"""No absolute machine path in a real run's report.html, tables/ or items/.

The run is built the way users build one (`crma-eval analyze` on record files that live under an
absolute temporary path), then given what `crma-eval run` adds: meta with the config's absolute
path, the model's, a failure naming a data file, and run.json with checkpoints and data keyed by
absolute paths. Every file the report writes is then searched for those paths, the run
directory, the home directory and the temporary root.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from click.testing import CliRunner

from crma_eval.cli import cli
from crma_eval.records import write_records
from crma_eval.report.context import scrub_path
from crma_eval.report.render import render_report

PAPER = Path(__file__).resolve().parents[2] / "examples" / "paper"


def _bench_records(folder: Path) -> Path:
    rows = []
    for arm, outcomes in (("base", [1, 0, 1, 1, 0, 1]), ("after", [0, 0, 1, 1, 1, 1])):
        for i, v in enumerate(outcomes):
            rows.append(
                {
                    "kind": "bench",
                    "task": "arc_easy",
                    "arm": arm,
                    "doc_id": i,
                    "metric": "acc",
                    "value": v,
                    "doc_hash": f"h{i}",
                    "target": f"answer {i}",
                    "prediction": f"{arm} {i}",
                }
            )
    write_records(folder / "bench.jsonl", rows)
    return folder / "bench.jsonl"


def _add_run_context(run: Path, data: Path) -> list[str]:
    """Meta and run.json as `crma-eval run` writes them (absolute paths); returns those paths."""
    config = str(data / "configs" / "paper.yaml")
    model = str(data / "models" / "base-model")
    checkpoint = str(data / "checkpoints" / "medical")
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))
    results["meta"] |= {
        "name": "paper",
        "config": config,
        "model": model,
        "failures": [
            {"unit": "qa/medical", "problem": f"{data}/qa.jsonl line 3: bad field", "plugin": "qa"}
        ],
    }
    (run / "results.json").write_text(json.dumps(results), encoding="utf-8")
    run_json = {"config": config, "checkpoints": {checkpoint: "sha256:" + "ab" * 32}}
    run_json["data"] = {str(data / "qa.jsonl"): "sha256:" + "cd" * 32}
    (run / "run.json").write_text(json.dumps(run_json), encoding="utf-8")
    return [config, model, checkpoint, str(data)]


def test_no_absolute_machine_path_in_report_tables_or_items() -> None:
    root = Path(tempfile.mkdtemp(prefix="crma-paths-")).resolve()
    try:
        data = root / "data"
        data.mkdir()
        inputs = [shutil.copy(PAPER / name, data / name) for name in ("loss.jsonl", "qa.jsonl")]
        inputs.append(_bench_records(data))
        run = root / "runs" / "paper-run"
        outcome = CliRunner().invoke(
            cli, ["analyze", *map(str, inputs), "--out", str(run), "--no-report"]
        )
        assert outcome.exit_code == 0, outcome.output
        leaks = _add_run_context(run, data)
        report = render_report(run)
        files = [report, *sorted((run / "tables").iterdir()), *sorted((run / "items").iterdir())]
        assert any(f.name.startswith("bench-discordant") for f in files)  # bench drill-down
        forbidden = {*leaks, str(run), str(root), str(Path.home()), tempfile.gettempdir()}
        forbidden = {p for p in forbidden if len(p) > 1}
        for path in files:
            text = path.read_text(encoding="utf-8")
            found = [p for p in forbidden if p in text]
            assert found == [], f"{path.name} shows {found}"
        html = report.read_text(encoding="utf-8")
        assert "paper.yaml" in html and "base-model" in html  # named, by their last component
    finally:
        shutil.rmtree(root)


def test_paths_inside_text_are_reduced_and_other_slashes_kept() -> None:
    cases = {
        "/srv/runs/a/config.yaml": "config.yaml",
        "unit qa: /home/u/data/qa.jsonl line 3: bad": "unit qa: qa.jsonl line 3: bad",
        '[{"problem": "/tmp/x/qa.jsonl"}]': '[{"problem": "qa.jsonl"}]',
        "see (/home/u/x.yaml), k=/a/b": "see (x.yaml), k=b",
        "https://example.org/a/b": "https://example.org/a/b",
        "loss (nats / token), and/or a/b/c": "loss (nats / token), and/or a/b/c",
    }
    assert {text: scrub_path(text) for text in cases} == cases
