"""Gate metric globs: `*` one dotted segment, `**` across; old specs keep fnmatch's meaning."""

from __future__ import annotations

from fnmatch import fnmatchcase
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from crma_eval.gate.core import run_gate
from crma_eval.gate.globs import matching, segment_match
from crma_eval.store import write_json_atomic

NAMES = [
    "qa.with_crma.med.accuracy",
    "qa.with_crma.law.accuracy",
    "qa.with_crma.scorer.exact.accuracy",
    "qa.with_crma.med.seed_0.accuracy",
    "qa.with_crma.accuracy",
]


def test_star_stays_in_one_segment_and_double_star_crosses() -> None:
    assert matching("qa.with_crma.*.accuracy", NAMES) == [
        "qa.with_crma.law.accuracy",
        "qa.with_crma.med.accuracy",
    ]
    assert matching("qa.with_crma.**.accuracy", NAMES) == sorted(NAMES[:4])
    assert matching("qa.with_crma.?ed.accuracy", NAMES) == ["qa.with_crma.med.accuracy"]


CLASS_CHARS = "[]!-^\\&~|"  # character classes, their negation, ranges, escapes, set operators


@settings(max_examples=300)
@given(
    st.text(alphabet="abz_*?" + CLASS_CHARS, max_size=8),
    st.text(alphabet="abz_" + CLASS_CHARS, max_size=6),
)
def test_without_dots_it_is_fnmatch(pattern: str, name: str) -> None:
    # every pattern fnmatch reads (bad ranges like [z-a], a lone backslash, [[...]) works here too
    assert segment_match(name, pattern) == fnmatchcase(name, pattern)


def _run(tmp_path: Path, spec_text: str) -> list[str]:
    run = tmp_path / "run"
    run.mkdir(exist_ok=True)
    results = {"schema": "crma-eval/results/1", "metrics": dict.fromkeys(NAMES, 0.9)}
    write_json_atomic(run / "results.json", results | {"plugins": {}, "meta": {}})
    spec = tmp_path / "gates.yaml"
    spec.write_text(spec_text)
    return [o.metric for o in run_gate(run, spec).outcomes]


def test_old_specs_keep_their_meaning_with_a_deprecation_note(tmp_path: Path, capsys) -> None:
    rule = "  - metric: qa.with_crma.*.accuracy\n    min: 0.5\n"
    old = _run(tmp_path, "gates:\n" + rule)
    assert old == sorted(n for n in NAMES if fnmatchcase(n, "qa.with_crma.*.accuracy"))
    err = capsys.readouterr().err
    assert "deprecated" in err and "qa.with_crma.**.accuracy" in err
    new = _run(tmp_path, "globs: segments\ngates:\n" + rule)
    assert new == ["qa.with_crma.law.accuracy", "qa.with_crma.med.accuracy"]
    assert "deprecated" not in capsys.readouterr().err


def test_a_class_never_matches_the_dot_between_segments() -> None:
    assert segment_match("qa.med", "qa[.]med") is False
    assert segment_match("qa.med", "qa[!x]med") is False
    assert segment_match("qa_med", "qa[!x]med") is True
    assert segment_match("qa.med", "qa**med") is True


def test_fnmatch_of_python_3_14_is_read_too(monkeypatch) -> None:
    import fnmatch

    from crma_eval.gate import globs

    translate = fnmatch.translate

    def translate_3_14(pattern: str) -> str:  # Python 3.14 ends the regex with \z, not \Z
        wrapped = translate(pattern)
        assert wrapped.endswith("\\Z")
        return wrapped[:-2] + "\\z"

    monkeypatch.setattr(fnmatch, "translate", translate_3_14)
    globs._regex.cache_clear()
    try:
        assert segment_match("qa.b1", "qa.[ab][0-9]") is True
        assert segment_match("qa.c1", "qa.[ab][0-9]") is False
    finally:
        globs._regex.cache_clear()


def test_the_legacy_note_suggests_only_a_spelling_that_selects_the_same_metrics(capsys) -> None:
    names = ["qa.a.b.x", "qa.a_b.x"]
    assert matching("qa.a?b.x", names, legacy=True) == names  # fnmatch's `?` matched the dot
    err = capsys.readouterr().err
    assert "deprecated" in err and "never match a dot" in err and "write 'qa.a?b.x'" not in err
    assert matching("qa.*.x", names, legacy=True) == names
    err = capsys.readouterr().err
    assert "write 'qa.**.x'" in err
    assert set(matching("qa.**.x", names)) == set(names)  # the advice holds
