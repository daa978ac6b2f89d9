"""A third-party plugin that declares its own record kind, installed the way pip installs one,
goes through collect -> analyze -> report -> gate with nothing in crma_eval naming it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import tinymodel as tm
import yaml
from fakedist import cli, install

PLUGIN = """
from typing import Literal

from typing_extensions import TypedDict

from crma_eval import (
    AnalysisResult, Name, NonNeg, Plugin, RecordKind, Section, Table, Unit, put_metrics,
)


class LatencyRecord(TypedDict):
    kind: Literal["latency"]
    checkpoint: Name
    domain: Name
    ms: NonNeg


class LatencyCollector:
    plugin = "latency"

    def units(self, ctx):
        return [Unit("latency", ck.id, "-", d) for ck in ctx.checkpoints for d in ("ab", "abcd")]

    def run(self, unit, ctx):
        ms = float(len(unit.domain)) * 10
        return [{"kind": "latency", "checkpoint": unit.checkpoint, "domain": unit.domain, "ms": ms}]


def analyze_latency(frame, options):
    metrics = {}
    for domain, group in frame.groupby("domain"):
        put_metrics(metrics, ("latency", domain), {"max_ms": group["ms"].max()})
    return AnalysisResult(metrics=metrics, details={"n": len(frame)})


def latency_section(result):
    return Section("latency", "Latency <ms>", [Table(["records"], [[result["details"]["n"]]])])


class LatencyPlugin(Plugin):
    name, title = "latency", "Latency <ms>"
    record_kinds = (RecordKind("latency", LatencyRecord, key=("checkpoint", "domain")),)
    collector = "third_party_latency:LatencyCollector"
    analysis = "third_party_latency:analyze_latency"
    section = "third_party_latency:latency_section"
    definitions = (("Latency", "wall time of one answer, in milliseconds"),)
"""
ENTRY = "[crma_eval.plugins]\nlatency = third_party_latency:LatencyPlugin\n"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return install(tmp_path_factory.mktemp("site"), "third_party_latency", PLUGIN, ENTRY)


@pytest.mark.slow
def test_new_kind_collected_analyzed_reported_and_gated(
    env: dict[str, str], tmp_path: Path
) -> None:
    world = tm.world()
    config = tmp_path / "run.yaml"
    checkpoints = [str(p) for p in world.checkpoints.values()]
    config.write_text(yaml.safe_dump({"name": "lat", "checkpoints": checkpoints,
                                      "plugins": ["latency"]}))  # fmt: skip
    out = tmp_path / "run"
    done = cli(env, "run", str(config), "--out", str(out), "--quiet")
    assert done.returncode == 0, done.stderr
    lines = (out / "records" / "latency.jsonl").read_text().splitlines()
    assert len(lines) == 2 * len(checkpoints)
    results = json.loads((out / "results.json").read_text())
    assert results["metrics"]["latency.abcd.max_ms"] == 40.0
    assert results["metrics"]["latency.ab.max_ms"] == 20.0
    html = (out / "report.html").read_text()
    assert "Latency &lt;ms&gt;" in html and "<dt>Latency</dt>" in html

    spec = tmp_path / "gates.yaml"
    spec.write_text("gates:\n  - metric: 'latency.*.max_ms'\n    max: 50\n")
    assert cli(env, "gate", str(out), "--spec", str(spec)).returncode == 0
    spec.write_text("gates:\n  - metric: 'latency.*.max_ms'\n    max: 30\n")
    failed = cli(env, "gate", str(out), "--spec", str(spec))
    assert failed.returncode == 1 and "latency.abcd.max" in failed.stdout


def test_new_kind_is_validated_and_deduplicated_by_its_declared_key(
    env: dict[str, str], tmp_path: Path
) -> None:
    good = {"kind": "latency", "checkpoint": "c", "domain": "d", "ms": 3.0}
    records = tmp_path / "lat.jsonl"
    records.write_text(json.dumps(good) + "\n")
    done = cli(env, "analyze", str(records), "--out", str(tmp_path / "a"), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"latency.d.max_ms": 3.0}

    records.write_text(json.dumps(good) + "\n" + json.dumps({**good, "ms": -1}) + "\n")
    bad = cli(env, "analyze", str(records), "--out", str(tmp_path / "b"))
    assert bad.returncode == 2 and f"{records}:2" in bad.stderr and "'ms'" in bad.stderr
    records.write_text(json.dumps(good) + "\n" + json.dumps(good) + "\n")
    dup = cli(env, "analyze", str(records), "--out", str(tmp_path / "c"))
    assert dup.returncode == 2 and "duplicate latency record" in dup.stderr
    assert "Traceback" not in bad.stderr + dup.stderr
