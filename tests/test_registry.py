"""Plugins are discovered through entry points: a third-party plugin installs like the built-ins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

PLUGIN = """
from crma_eval.plugins.base import AnalysisResult, Plugin
from crma_eval.blocks import Paragraph, Section


class CountPlugin(Plugin):
    name, title, kinds = "count", "Record count", ("qa",)

    def analyze(self, frames, options):
        return AnalysisResult(metrics={"count.all.n": float(len(frames["qa"]))})

    def report_section(self, result):
        return Section("count", "Record count", [Paragraph("<b>counted</b>")])
"""


def install_fake_distribution(site: Path) -> None:
    """What `pip install` of a package declaring a crma_eval.plugins entry point leaves behind."""
    (site / "third_party_count.py").write_text(PLUGIN)
    info = site / "third_party_count-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: third-party-count\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[crma_eval.plugins]\ncount = third_party_count:CountPlugin\n"
    )


def test_third_party_plugin_is_listed_analyzed_and_reported(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    install_fake_distribution(site)
    records = tmp_path / "qa.jsonl"
    rows = [{"kind": "qa", "arm": "a", "domain": "d", "item_id": str(i), "correct": True}
            for i in range(3)]  # fmt: skip
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    env = {**os.environ, "PYTHONPATH": str(site)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "crma_eval", *args]
        return subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)

    listed = json.loads(cli("plugins", "--json").stdout)
    assert "count" in {p["name"] for p in listed}
    assert cli("analyze", str(records), "--out", str(tmp_path / "run")).returncode == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["metrics"]["count.all.n"] == 3
    html = (tmp_path / "run" / "report.html").read_text()
    assert "&lt;b&gt;counted&lt;/b&gt;" in html and "<b>counted</b>" not in html
