"""Plugins are discovered through entry points: a third-party plugin installs like the built-ins."""

from __future__ import annotations

import json
from pathlib import Path

from fakedist import cli, install

PLUGIN = """
import click

from crma_eval import AnalysisResult, Paragraph, Plugin, Section


@click.command()
@click.argument("who")
def hello(who):
    \"\"\"Say hello.\"\"\"
    click.echo(f"hello {who}")


class CountPlugin(Plugin):
    name, title, kinds = "count", "Record count", ("qa",)
    commands = {"count-hello": "third_party_count:hello", "report": "third_party_count:hello"}

    def analyze(self, frames, options):
        return AnalysisResult(metrics={"count.all.n": float(len(frames["qa"]))})

    def report_section(self, result):
        return Section("count", "Record count", [Paragraph("<b>counted</b>")])
"""


def test_third_party_plugin_is_listed_analyzed_and_reported(tmp_path: Path) -> None:
    entry = "[crma_eval.plugins]\ncount = third_party_count:CountPlugin\n"
    env = install(tmp_path / "site", "third_party_count", PLUGIN, entry)
    records = tmp_path / "qa.jsonl"
    rows = [{"kind": "qa", "arm": "a", "domain": "d", "item_id": str(i), "correct": True}
            for i in range(3)]  # fmt: skip
    records.write_text("".join(json.dumps(r) + "\n" for r in rows))
    listed = json.loads(cli(env, "plugins", "--json").stdout)
    assert "count" in {p["name"] for p in listed}
    assert cli(env, "analyze", str(records), "--out", str(tmp_path / "run")).returncode == 0
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert results["metrics"]["count.all.n"] == 3
    html = (tmp_path / "run" / "report.html").read_text()
    assert "&lt;b&gt;counted&lt;/b&gt;" in html and "<b>counted</b>" not in html


def test_a_plugin_contributes_a_cli_verb(tmp_path: Path) -> None:
    entry = "[crma_eval.plugins]\ncount = third_party_count:CountPlugin\n"
    env = install(tmp_path / "site", "third_party_count", PLUGIN, entry)
    assert "count-hello" in cli(env, "--help").stdout
    done = cli(env, "count-hello", "world")
    assert done.returncode == 0 and done.stdout.strip() == "hello world"
    assert cli(env, "no-such-verb").returncode == 2
    # a plugin verb never shadows a built-in one
    assert "RUN_DIR/report.html" in cli(env, "report", "--help").stdout
