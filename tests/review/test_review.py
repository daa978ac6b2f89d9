"""Spreadsheet-safe CSV round trip, and the blinded QA review: export, three raters, import."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import krippendorff
import numpy as np
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from crma_eval.cli import cli
from crma_eval.csvsafe import decode_cell, encode_cell, read_csv, write_csv
from crma_eval.review.estimate import corrected_accuracy

FORMULAS = ["=IMPORTXML(\"http://x\",\"//a\")", "+1+1", "-2+3", "-2,5", "@SUM(A1)", "\tx",
            "\r\nsplit\r", "'quoted", "''", "a\rb", "with \"quotes\"\nand lines"]  # fmt: skip
NUMBERS = ["-2", "+11.04%", "-0.02%", "-2e-05", "+.5"]  # data: written as they are


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=4))
def test_any_string_survives_export_import(tmp_path_factory, cells) -> None:
    path = tmp_path_factory.mktemp("csv") / "x.csv"
    header = [f"c{i}" for i in range(len(cells))]
    write_csv(path, header, [cells, ["x"] * len(cells)])
    _, rows = read_csv(path)
    assert next(row for _, row in rows) == dict(zip(header, cells, strict=True))


def test_formula_cells_are_neutralised_in_the_file(tmp_path) -> None:
    path = write_csv(tmp_path / "f.csv", ["a"], [[f] for f in FORMULAS])
    with open(path, encoding="utf-8-sig", newline="") as fh:
        raw = [row[0] for row in csv.reader(fh)][1:]
    assert len(raw) == len(FORMULAS)  # CR/LF inside cells did not split rows
    for cell in raw:
        assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert [decode_cell(encode_cell(f)) for f in FORMULAS] == FORMULAS
    assert [encode_cell(n) for n in NUMBERS] == NUMBERS  # plain signed numbers stay numbers
    assert [decode_cell(encode_cell(n)) for n in NUMBERS] == NUMBERS


def _write_run(run_dir: Path, n: int = 30) -> list[dict]:
    rng = np.random.default_rng(1)
    records = []
    for arm in ("with_crma", "without_crma"):
        for domain in ("medical", "legal"):
            for i in range(n):
                pred = FORMULAS[i % len(FORMULAS)] if i % 3 == 0 else f"answer {i}"
                exact, contains = bool(rng.random() < 0.5), bool(rng.random() < 0.6)
                records.append({
                    "kind": "qa", "arm": arm, "domain": domain, "item_id": f"{domain}-{i}",
                    "correct": contains, "question": f"=Q{i}?", "reference": f"-ref {i}",
                    "prediction": pred, "verdicts": {"exact": exact, "contains": contains},
                    "scores": {"exact": float(exact), "contains": float(contains)},
                    "primary": "contains",
                })  # fmt: skip
    (run_dir / "records").mkdir(parents=True)
    (run_dir / "records" / "qa.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8"
    )
    return records


def test_three_rater_round_trip(tmp_path) -> None:
    run_dir = tmp_path / "run"
    records = _write_run(run_dir)
    sheet = tmp_path / "review.csv"
    runner = CliRunner()
    args = ["review", "export", str(run_dir), "--out", str(sheet), "--n", "40", "--seed", "3",
            "--stratify", "domain,arm,disagreement"]  # fmt: skip
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    text = sheet.read_text(encoding="utf-8-sig")
    assert "with_crma" not in text and "contains" not in text and "medical" not in text  # blinded
    _, rows = read_csv(sheet)
    assert len(rows) == 40
    by_text = {(r["question"], r["prediction"]) for r in records}
    assert all((row["question"], row["answer"]) in by_text for _, row in rows)  # exact texts back
    rng = np.random.default_rng(7)
    labels = np.where(rng.random((3, 40)) < 0.6, "correct", "incorrect").astype(object)
    labels[1, 3] = ""  # a skipped item
    labels[2] = labels[0]  # rater 3 copies rater 1: alpha must reflect partial agreement
    paths = []
    for r in range(3):
        filled = [[*row.values()] for _, row in rows]
        for j, cells in enumerate(filled):
            cells[5] = labels[r, j]
        filled[0][6] = f"rater {r}"  # rater 3's labels copy rater 1's, but the sheet is their own
        paths.append(write_csv(tmp_path / f"rater{r}.csv", list(rows[0][1]), filled))
    result = runner.invoke(
        cli, ["review", "import", str(run_dir), *map(str, paths), "--json", "--bootstrap", "100"]
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    order = sorted(range(40), key=lambda j: rows[j][1]["item"])
    data = np.array([[{"correct": 1, "incorrect": 0}.get(labels[r, j], np.nan) for j in order]
                     for r in range(3)], dtype=float)  # fmt: skip
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert out["krippendorff_alpha"] == np.float64(expected)
    assert out["n_items"] == 40 and out["n_raters"] == 3
    assert set(out["scorers_vs_humans"]) == {"exact", "contains"}
    assert {(a["arm"], a["domain"]) for a in out["accuracy"]} == {
        (a, d) for a in ("with_crma", "without_crma") for d in ("medical", "legal")
    }


def test_corrected_accuracy_difference_estimator() -> None:
    # one cell, N=20, auto accuracy 0.5, reviewed 8 with human−auto = [0 ×7, 1]
    d = np.array([0, 0, 0, 0, 0, 0, 0, 1])
    out = corrected_accuracy([{"N": 20, "auto_correct": 10, "diffs": list(d)}], 0.95)
    # Agresti–Min: half an answer added to each cell, (1.5 + 0.5) / 10 and (1.5 - 0.5) / 10.
    se = np.sqrt((1 - 8 / 20) * max(d.var(ddof=1) / 8, (0.2 - 0.1**2) / 10))
    assert np.isclose(out["estimate"], 0.5 + 1 / 8) and np.isclose(out["se"], se)
    assert np.isclose(out["ci_high"], 0.625 + 1.959963984540054 * se)
    empty = corrected_accuracy([{"N": 5, "auto_correct": 1, "diffs": []}], 0.95)
    assert empty["estimate"] is None and "no reviewed" in empty["why"]


def test_unknown_label_is_bad_input(tmp_path) -> None:
    run_dir = tmp_path / "run"
    _write_run(run_dir, n=3)
    sheet = tmp_path / "s.csv"
    CliRunner().invoke(cli, ["review", "export", str(run_dir), "--out", str(sheet), "--n", "4"])
    _, rows = read_csv(sheet)
    filled = [[*[*row.values()][:5], "maybe", ""] for _, row in rows]
    write_csv(sheet, list(rows[0][1]), filled)
    result = CliRunner().invoke(cli, ["review", "import", str(run_dir), str(sheet)])
    assert result.exit_code == 2 and "field 'label'" in result.output
