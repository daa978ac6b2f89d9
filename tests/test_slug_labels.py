"""Slug collisions name both inputs; the README's slug examples are what `slug` does."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from crma_eval.cli import cli
from crma_eval.naming import slug, unslug
from tests.recordgen import qa, write

README = Path(__file__).parent.parent / "README.md"


def test_two_names_with_one_slug_are_named_both(tmp_path: Path) -> None:
    for first, second in (("a b", "a_b"), ("med/law", "med law")):
        records = [qa(first, "med", "1", True), qa(second, "med", "1", False)]
        path = write(tmp_path / "qa.jsonl", records)
        result = CliRunner().invoke(cli, ["analyze", str(path), "--out", str(tmp_path / "o")])
        assert result.exit_code == 2, result.output
        line = result.stderr.strip()
        assert len(line.splitlines()) == 1 and repr(first) in line and repr(second) in line
        assert repr(slug(first)) in line and "qa.jsonl:2" in line


def test_readme_slug_examples_are_the_implemented_slug() -> None:
    text = " ".join(README.read_text("utf-8").split())
    pairs = re.findall(r"`([^`]+)` → `([^`]+)`", text[text.index("Names are slugged") :][:600])
    assert ("médecine", slug("médecine")) in pairs and ("a b", "a_b") in pairs
    assert all(slug(name) == segment for name, segment in pairs)
    assert unslug(slug("médecine")) == "médecine"
