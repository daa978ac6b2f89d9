"""Unicode names (issue 23): reversible, collision-free slugs for non-ASCII names (ASCII slugs
unchanged) and bidi/zero-width controls neutralised wherever a name is displayed."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crma_eval.cli import main
from crma_eval.naming import markdown_cell, slug, unslug, visible


@given(st.text(min_size=1, max_size=20).filter(lambda t: not t.strip().isascii()))
def test_non_ascii_slugs_round_trip_and_stay_metric_safe(name: str) -> None:
    # Names are compared stripped (a trailing U+0085 NEL is whitespace): a name that is ASCII once
    # stripped gets the ASCII slug, which is not reversible by design.
    made = slug(name)
    assert unslug(made) == name.strip()
    assert all(c.isascii() and (c.isalnum() or c in "_-") for c in made)


@given(st.lists(st.text(min_size=1, max_size=8), min_size=2, max_size=2, unique=True))
def test_distinct_non_ascii_names_never_collide(names: list[str]) -> None:
    a, b = (f"é{n.strip()}" for n in names)
    if a != b:
        assert slug(a) != slug(b)


def test_ascii_slugs_are_unchanged() -> None:
    assert [slug(n) for n in ["legal", "a b", " x.y ", "...", "Med-1"]] == [
        "legal", "a_b", "x_y", "_", "Med-1"
    ]  # fmt: skip


def test_controls_are_shown_not_obeyed() -> None:
    assert visible("le\u202egal\u200b") == "le<U+202E>gal<U+200B>"
    assert visible("法律") == "法律"
    controls = [chr(c) for c in [*range(0x20), 0x7F, *range(0x80, 0xA0)] if chr(c) not in "\t\n\r"]
    for c in controls:
        assert visible(f"a{c}b") == f"a<U+{ord(c):04X}>b"
    assert visible("a\tb\nc\r") == "a\tb\nc\r"  # whitespace is left to the caller
    assert visible("a\u2028b\u2029c") == "a<U+2028>b<U+2029>c"  # Unicode's invisible breaks


def test_markdown_cells_neutralise_untrusted_text() -> None:
    cell = markdown_cell("qa.\x00\x1b[31mX | <img src=x> *b* `c`\nnext")
    assert "\x00" not in cell and "\x1b" not in cell and "\n" not in cell and "<img" not in cell
    assert "\\|" in cell and "\\*b\\*" in cell and "\\`c\\`" in cell


def test_non_ascii_and_bidi_domains_in_metrics_and_report(tmp_path, capsys) -> None:
    domains = ["医学", "法律", "le\u202egal"]
    rows = [
        {"kind": "qa", "arm": arm, "domain": d, "item_id": f"{d}-{i}", "correct": (i + j) % 3 > 0}
        for j, arm in enumerate(["with_crma", "without_crma"])
        for d in domains
        for i in range(6)
    ]
    records = tmp_path / "qa.jsonl"
    records.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as exc:
        main(["analyze", str(records), "--out", str(out)])
    assert exc.value.code == 0, capsys.readouterr().err
    metrics = json.loads((out / "results.json").read_text())["metrics"]
    back = {unslug(seg) for name in metrics for seg in name.split(".")} - {None}
    assert set(domains) <= back  # each domain has its own, reversible metric segment
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "\u202e" not in html and "&lt;U+202E&gt;" in html


def test_one_line_errors_and_junit_show_controls(tmp_path) -> None:
    import xml.etree.ElementTree as ET

    from crma_eval import InputError
    from crma_eval.gate.core import run_gate
    from crma_eval.gate.output import junit_xml
    from crma_eval.store import write_json_atomic

    line = InputError("bad \x1b[31mvalue\x00", field="min\u202e").one_line()
    assert "<U+001B>" in line and "<U+0000>" in line and "<U+202E>" in line
    assert not any(c in line for c in "\x1b\x00\u202e")
    run = tmp_path / "run"
    run.mkdir()
    doc = {"schema": "crma-eval/results/1", "metrics": {"qa.a": 0.9}, "plugins": {}, "meta": {}}
    write_json_atomic(run / "results.json", doc)
    spec = tmp_path / "gates.yaml"
    spec.write_text(
        'globs: segments\ngates:\n  - {metric: "qa.\\x9b31m\\x7f\\u202e\\x85x", min: 0.5}\n'
    )
    root = ET.fromstring(junit_xml(run_gate(run, spec)))
    (case,) = root.iter("testcase")
    for shown in ("<U+009B>", "<U+007F>", "<U+202E>", "<U+0085>"):
        assert shown in case.get("name", "") and shown in (case.find("failure").text or "")
