"""`crma-eval docs`: the user guides the README links, read from the installed package."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from crma_eval.cli import cli

REPO = Path(__file__).resolve().parents[1]


def test_docs_lists_every_guide_with_its_title_and_prints_one() -> None:
    runner = CliRunner()
    listed = runner.invoke(cli, ["docs"])
    assert listed.exit_code == 0
    for md in sorted((REPO / "docs").glob("*.md")):
        title = md.read_text("utf-8").splitlines()[0].lstrip("# ").strip()
        assert f"{md.stem:<10} {title}" in listed.output
    shown = runner.invoke(cli, ["docs", "power.md"])
    assert shown.exit_code == 0
    assert shown.output == (REPO / "docs" / "power.md").read_text("utf-8")


def test_an_unknown_guide_is_bad_input_naming_the_guides() -> None:
    result = CliRunner().invoke(cli, ["docs", "nope"])
    assert result.exit_code == 2
    assert "no guide named 'nope'" in result.output and "bench" in result.output
    assert "Traceback" not in result.output
