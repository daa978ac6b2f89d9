"""Issue 23 hardening at the CLI's edge: one exit-code rule, one bounded loader for specs and
results, non-finite metrics failing gates by name, tampered results/review keys, duplicate
raters and columns, rescore's lock."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pytest
from cliedge import crma_eval

from crma_eval.store import RunDir

PAPER = Path(__file__).resolve().parents[1] / "examples" / "paper"
RESULTS = {"schema": "crma-eval/results/1", "plugins": {}, "meta": {}}


def _cli(*args: str) -> tuple[int, str, str]:
    done = crma_eval(*args)
    return done.returncode, done.stdout, done.stderr


def _run(tmp_path: Path, metrics: str = '{"qa.acc": 0.5}') -> Path:
    run = tmp_path / "run"
    run.mkdir()
    text = json.dumps(RESULTS)[:-1] + f', "metrics": {metrics}}}'
    (run / "results.json").write_text(text, encoding="utf-8")
    return run


def _spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gates.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def analyzed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("analyzed") / "run"
    done = crma_eval(
        "analyze", str(PAPER / "qa.jsonl"), str(PAPER / "loss.jsonl"), "--out", str(out)
    )
    assert done.returncode == 0, done.stderr
    return out


@pytest.mark.parametrize(
    ("code", "name"),
    [(errno.EACCES, "permission"), (errno.EROFS, "read-only"), (errno.ENOSPC, "space"),
     (errno.ENOENT, "no such")],
)  # fmt: skip
def test_fixable_os_errors_exit_2_with_one_line(tmp_path, monkeypatch, code, name) -> None:
    run = _run(tmp_path)
    spec = _spec(tmp_path, "gates:\n- metric: qa.acc\n  min: 0.1\n")

    def refuse(path, text):
        raise OSError(code, os.strerror(code), str(path))

    monkeypatch.setattr("crma_eval.gate.core.write_text_atomic", refuse)
    rc, _, err = _cli("gate", str(run), "--spec", str(spec))
    assert rc == 2 and name in err.lower() and len(err.strip().splitlines()) == 1
    assert "junit.xml" in err and "Traceback" not in err


def test_other_os_errors_are_internal(tmp_path, monkeypatch) -> None:
    run = _run(tmp_path)
    spec = _spec(tmp_path, "gates:\n- metric: qa.acc\n  min: 0.1\n")

    def broken(path, text):
        raise OSError(errno.EBADF, "Bad file descriptor")

    monkeypatch.setattr("crma_eval.gate.core.write_text_atomic", broken)
    rc, _, err = _cli("gate", str(run), "--spec", str(spec))
    assert rc == 3 and "Traceback" in err


def test_a_file_where_a_folder_belongs_is_bad_input(tmp_path) -> None:
    run = _run(tmp_path)
    (tmp_path / "file").write_text("x")
    rc, _, err = _cli("compare", str(run), str(run), "--out", str(tmp_path / "file" / "c"))
    assert rc == 2 and len(err.strip().splitlines()) == 1


BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdef", "bcdefg", strict=True)
)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (BOMB + "gates: [*g]\n", "alias"),
        ("gates: " + "[" * 2000 + "]" * 2000 + "\n", "nested deeper"),
        ("gates:\n- metric: x\n  min: " + "7" * 6000 + "\n", "digits"),
        ("gates:\n- metric: x\n  min: 1e308\n", "finite number of size"),
        ("gates:\n- metric: x\n  min: .inf\n", "finite number"),
    ],
)
def test_hostile_specs_are_one_short_line(tmp_path, text, says) -> None:
    run = _run(tmp_path)
    rc, _, err = _cli("gate", str(run), "--spec", str(_spec(tmp_path, text)))
    assert rc == 2 and says in err and len(err) < 1200 and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("n", ["1000000000000000000", "2" * 40])
def test_claims_counts_are_range_checked(tmp_path, n) -> None:
    claims = tmp_path / "claims.yaml"
    claims.write_text(
        f"claims:\n- id: c\n  proportion: {{n: {n}}}\n  printed: 50.0\n  unit: percent\n"
    )
    rc, _, err = _cli("claims", str(claims))
    assert rc == 2 and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "metrics",
    ['{"qa.acc": "x"}', '{"qa.acc": ' + "9" * 5000 + "}", "[" * 3000 + "]" * 3000],
)
def test_tampered_results_are_bad_input(tmp_path, metrics) -> None:
    run = _run(tmp_path, metrics)
    spec = _spec(tmp_path, "gates:\n- metric: qa.acc\n  min: 0.1\n")
    rc, _, err = _cli("gate", str(run), "--spec", str(spec))
    assert rc == 2 and "results.json" in err and len(err) < 1200


@pytest.mark.parametrize("value", ["Infinity", "-Infinity", "NaN"])
def test_non_finite_metrics_never_pass_a_gate(tmp_path, value) -> None:
    run = _run(tmp_path, f'{{"qa.acc": {value}, "qa.ok": 0.5}}')
    spec = _spec(tmp_path, 'gates:\n- metric: "qa.*"\n  min: -1000\n')
    rc, _, _ = _cli("gate", str(run), "--spec", str(spec), "--json")
    outcome = json.loads((run / "gate.json").read_text())["outcomes"]
    assert rc == 1
    assert [(o["metric"], o["passed"]) for o in outcome] == [("qa.acc", False), ("qa.ok", True)]


def test_tampered_results_never_crash_report(analyzed, tmp_path) -> None:
    run = tmp_path / "copy"
    shutil.copytree(analyzed, run)
    results = json.loads((run / "results.json").read_text())
    results["plugins"]["drift"]["details"]["conditions"] = [{"oops": 1}]
    results["plugins"]["ablation"]["details"] = "not an object"
    (run / "results.json").write_text(json.dumps(results))
    rc, _, err = _cli("report", str(run))
    html = (run / "report.html").read_text()
    assert rc == 0, err
    assert "plugins.drift is not in" in html and "plugins.ablation is not in" in html
    assert "plugins.qa is not in" not in html
    results["meta"]["options"] = ["tampered"]
    (run / "results.json").write_text(json.dumps(results))
    rc, _, err = _cli("report", str(run))
    assert rc == 2 and "meta.options" in err


def _exported(tmp_path: Path) -> tuple[Path, Path]:
    from review.test_review import _write_run

    run = tmp_path / "run"
    _write_run(run)
    sheet = tmp_path / "sheet.csv"
    rc, _, err = _cli("review", "export", str(run), "--out", str(sheet), "--n", "10")
    assert rc == 0, err
    return run, sheet


def _label(sheet: Path, out: Path, label: str, header: str | None = None) -> Path:
    from crma_eval.csvsafe import read_csv, write_csv

    columns, rows = read_csv(sheet)
    filled = [[*list(row.values())[:5], label, ""] for _, row in rows]
    write_csv(out, header.split(",") if header else columns, filled)
    return out


def test_review_import_refuses_duplicate_raters_and_columns(tmp_path) -> None:
    run, sheet = _exported(tmp_path)
    a = _label(sheet, tmp_path / "a.csv", "correct")
    b = _label(sheet, tmp_path / "b.csv", "incorrect")
    copy = tmp_path / "copy.csv"
    shutil.copy(a, copy)
    for args, culprit in (((a, b, a), "a.csv"), ((a, b, copy), "copy.csv")):
        rc, _, err = _cli("review", "import", str(run), *map(str, args))
        assert rc == 2 and culprit in err and "same rater" in err
    header = "review_id,item,question,reference,answer,label,label"
    dup = _label(sheet, tmp_path / "dup.csv", "correct", header=header)
    rc, _, err = _cli("review", "import", str(run), str(dup), str(b))
    assert rc == 2 and "dup.csv" in err and "duplicate column" in err


@pytest.mark.parametrize(
    "tamper",
    [
        lambda k: k.update(items=[]),
        lambda k: k.update(cells={"c": {"arm": "a"}}),
        lambda k: next(iter(k["items"].values())).update(correct="yes"),
        lambda k: k.update(seed="x"),
    ],
)
def test_tampered_review_key_is_bad_input_naming_it(tmp_path, tamper) -> None:
    run, sheet = _exported(tmp_path)
    (key_path,) = (run / "review").glob("*.json")
    key = json.loads(key_path.read_text())
    tamper(key)
    key_path.write_text(json.dumps(key))
    a = _label(sheet, tmp_path / "a.csv", "correct")
    rc, _, err = _cli("review", "import", str(run), str(a))
    assert rc == 2 and key_path.name in err and "Traceback" not in err


def test_rescore_respects_the_run_lock(tmp_path) -> None:
    from review.test_review import _write_run

    run = tmp_path / "run"
    _write_run(run)
    before = (run / "records" / "qa.jsonl").read_bytes()
    with RunDir(run).locked():
        rc, _, err = _cli("rescore", str(run), "--scorers", "exact")
    assert rc == 2 and f"in use by PID {os.getpid()}" in err
    assert (run / "records" / "qa.jsonl").read_bytes() == before


def test_gate_summary_stays_under_a_mebibyte(tmp_path) -> None:
    name = "qa.metric_with_a_rather_long_descriptive_name_{:05d}"
    run = _run(tmp_path, json.dumps({name.format(i): 0.5 for i in range(12000)}))
    rules = f'gates:\n- metric: "qa.m*"\n  min: 0.1\n- metric: {name.format(11999)}\n  min: 0.9\n'
    rc, _, _ = _cli("gate", str(run), "--spec", str(_spec(tmp_path, rules)))
    summary = (run / "summary.md").read_text(encoding="utf-8")
    full = (run / "summary-full.md").read_text(encoding="utf-8")
    assert rc == 1 and len(summary.encode()) < 1 << 20 < len(full.encode())
    first = summary.split("\n")[6]  # failures first
    assert "❌" in first and "11999" in first and "summary-full.md" in summary.splitlines()[-1]
    assert full.count("\n| ") == 12002  # the header row and 12,001 checks


@pytest.mark.parametrize("verb", ["gate", "report", "claims"])
def test_writers_respect_the_run_lock(tmp_path, verb) -> None:
    run = _run(tmp_path)
    spec = _spec(tmp_path, "gates:\n- metric: qa.acc\n  min: 0.1\n")
    claims = tmp_path / "claims.yaml"
    claims.write_text("claims:\n- id: c\n  metric: qa.acc\n  printed: 0.5\n")
    args = {"gate": ["gate", str(run), "--spec", str(spec)], "report": ["report", str(run)],
            "claims": ["claims", str(claims), str(run)]}[verb]  # fmt: skip
    with RunDir(run).locked():
        rc, _, err = _cli(*args)
    assert rc == 2 and f"in use by PID {os.getpid()}" in err
    assert sorted(p.name for p in run.iterdir()) == ["results.json", "run.lock"]
