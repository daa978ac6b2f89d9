"""GSM8K scorer audit: blinded export, strict read-back of reviews, agreement, kappa, deltas."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa
from statsmodels.stats.proportion import proportion_confint

from crma_eval.errors import InputError
from crma_eval.plugins.bench.gsm8k import extract_final_answer
from crma_eval.records import write_records
from crma_eval.verbs.audit import audit

SCORERS = ("strict-match", "flexible-extract", "crma-corrected")
# (response, truly correct?) — habits that make the three scorers disagree or agree.
RESPONSES = [
    ("6 * 7 = 42\n#### 42", True),
    ("The answer is 42.", True),
    ("The answer is **42**. We used 6 and 7.", True),
    ("\\boxed{42}", True),
    ("The answer is 41.", False),
    ("I don't know.", False),
    ("#### 40", False),
    ("So she has 42 left. This is because 6 * 7 = 42, minus 0.", True),
]


def _strict(text: str) -> int:
    return int("#### 42" in text)


def _flexible(text: str) -> int:
    numbers = [
        t.strip(".,*") for t in text.replace("\n", " ").split() if any(ch.isdigit() for ch in t)
    ]
    return int(bool(numbers) and numbers[-1] == "42")


def _corrected(text: str) -> int:
    return int(extract_final_answer(text) == "42")


def _write_run(run_dir, n_docs=24):
    records, truth = [], {}
    for arm, offset in (("base", 0), ("after", 3)):
        for i in range(n_docs):
            text, correct = RESPONSES[(i + offset) % len(RESPONSES)]
            truth[(arm, str(i))] = correct
            verdicts = dict(
                zip(SCORERS, (_strict(text), _flexible(text), _corrected(text)), strict=True)
            )
            for scorer, value in verdicts.items():
                records.append(
                    {
                        "kind": "bench",
                        "task": "gsm8k_crma",
                        "arm": arm,
                        "doc_id": str(i),
                        "metric": "exact_match",
                        "value": value,
                        "filter": scorer,
                        "doc_hash": f"h{i}",
                        "response": text,
                        "question": f"Question {i}: 6 times 7?",
                        "target": "6*7=42\n#### 42",
                        "prediction": "x",
                    }
                )
    write_records(run_dir / "records" / "bench.jsonl", records)
    return records, truth


def _export(run_dir, csv_path, seed=5, n_agree=3):
    result = CliRunner().invoke(
        audit,
        [
            "gsm8k",
            str(run_dir),
            "--export",
            str(csv_path),
            "--n-agree",
            str(n_agree),
            "--seed",
            str(seed),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def _rows(csv_path):
    with open(csv_path, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _key(run_dir, audit_id):
    return json.loads((run_dir / "audit" / f"{audit_id}.json").read_text())


def _label(rows, key, truth, flip=()):
    out = []
    for row in rows:
        item = key["items"][row["item"]]
        correct = truth[(item["arm"], item["doc_id"])] != (row["item"] in flip)
        out.append({**row, "label": "correct" if correct else "incorrect"})
    return out


def _write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_export_is_blinded_complete_on_disagreements_and_seeded(tmp_path):
    records, _ = _write_run(tmp_path)
    head = _export(tmp_path, tmp_path / "a.csv")
    text = (tmp_path / "a.csv").read_text()
    assert not any(s in text for s in SCORERS)
    key = _key(tmp_path, head["audit_id"])
    assert key["seed"] == 5 and key["scorers"] == list(SCORERS)
    by_doc: dict = {}
    for r in records:
        by_doc.setdefault((r["arm"], r["doc_id"]), set()).add(r["value"])
    disagree = {k for k, v in by_doc.items() if len(v) > 1}
    chosen = {(v["arm"], v["doc_id"]): v["stratum"] for v in key["items"].values()}
    assert {k for k, s in chosen.items() if s == "disagree"} == disagree
    assert sum(s == "agree" for s in chosen.values()) == 3
    rows = _rows(tmp_path / "a.csv")
    assert [r["item"] for r in rows] == sorted(key["items"]) and len(rows) == len(disagree) + 3
    order = [(key["items"][r["item"]]["arm"], key["items"][r["item"]]["doc_id"]) for r in rows]
    assert order != sorted(order)  # shuffled, not in record order
    assert all(r["label"] == "" and r["response"] for r in rows)

    _export(tmp_path, tmp_path / "b.csv")
    assert (tmp_path / "b.csv").read_text() == text
    other = _export(tmp_path, tmp_path / "c.csv", seed=6)
    other_key = _key(tmp_path, other["audit_id"])
    other_order = [(v["arm"], v["doc_id"]) for _, v in sorted(other_key["items"].items())]
    assert other_order != order


def test_review_round_trip_agreement_kappa_and_deltas(tmp_path):
    records, truth = _write_run(tmp_path)
    head = _export(tmp_path, tmp_path / "a.csv")
    key = _key(tmp_path, head["audit_id"])
    rows = _rows(tmp_path / "a.csv")
    flipped = {rows[0]["item"], rows[1]["item"]}
    _write_csv(tmp_path / "alice.csv", _label(rows, key, truth))
    _write_csv(tmp_path / "bob.csv", _label(rows, key, truth, flip=flipped))
    _write_csv(tmp_path / "carol.csv", _label(rows, key, truth, flip={rows[2]["item"]}))
    runner = CliRunner()
    result = runner.invoke(
        audit,
        [
            "gsm8k",
            str(tmp_path),
            "--reviews",
            str(tmp_path / "alice.csv"),
            str(tmp_path / "bob.csv"),
            str(tmp_path / "carol.csv"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)

    items = sorted(key["items"])
    labels = np.array(
        [
            [
                int(truth[(key["items"][i]["arm"], key["items"][i]["doc_id"])] != (i in f))
                for i in items
            ]
            for f in (set(), flipped, {rows[2]["item"]})
        ]
    )
    human = (labels.mean(axis=0) > 0.5).astype(int)
    for scorer in SCORERS:
        verdict = np.array([key["items"][i]["verdicts"][scorer] for i in items])
        k = int((verdict == human).sum())
        got = summary["scorers"][scorer]["all"]
        assert (got["k"], got["n"]) == (k, len(items))
        low, high = proportion_confint(k, len(items), method="wilson")
        assert got["ci_low"] == pytest.approx(low) and got["ci_high"] == pytest.approx(high)
    assert (
        summary["scorers"]["crma-corrected"]["all"]["agreement"]
        > (summary["scorers"]["strict-match"]["all"]["agreement"])
    )
    assert summary["kappa"]["cohen"]["1-2"] == pytest.approx(
        cohen_kappa_score(labels[0], labels[1])
    )
    table, _ = aggregate_raters(labels.T, n_cat=2)
    assert summary["kappa"]["fleiss"] == pytest.approx(fleiss_kappa(table))

    base = [r for r in records if r["arm"] == "base"]
    acc = {s: np.mean([r["value"] for r in base if r["filter"] == s]) for s in SCORERS}
    delta = summary["deltas"]["corrected_minus_strict"]["base"]["delta_pp"]
    assert delta == pytest.approx(100 * (acc["crma-corrected"] - acc["strict-match"]))
    assert (tmp_path / "audit" / f"{head['audit_id']}-review.json").exists()

    text = runner.invoke(audit, ["gsm8k", str(tmp_path), "--reviews", str(tmp_path / "alice.csv")])
    assert text.exit_code == 0 and "crma-corrected" in text.output and "kappa" not in text.output


@pytest.mark.parametrize(
    ("edit", "message", "has_line"),
    [
        (lambda rows: rows[:-1], "missing rows: 1 of", False),
        (
            lambda rows: [*rows, {**rows[0], "item": "item-9999"}],
            "extra row: item 'item-9999'",
            True,
        ),
        (lambda rows: [*rows, dict(rows[0])], "appears twice", True),
        (lambda rows: [{**rows[0], "label": "maybe"}, *rows[1:]], "unknown label 'maybe'", True),
        (
            lambda rows: [{**r, "audit_id": "gsm8k-000000000000"} for r in rows],
            "unknown audit_id",
            True,
        ),
    ],
)
def test_bad_reviews_are_reported_with_file_and_line_and_lose_nothing(
    tmp_path, edit, message, has_line
):
    _, truth = _write_run(tmp_path)
    head = _export(tmp_path, tmp_path / "a.csv")
    key = _key(tmp_path, head["audit_id"])
    before = {p: p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    bad = _write_csv(tmp_path / "bad.csv", edit(_label(_rows(tmp_path / "a.csv"), key, truth)))
    result = CliRunner().invoke(audit, ["gsm8k", str(tmp_path), "--reviews", str(bad)])
    assert isinstance(result.exception, InputError)
    assert message in result.exception.problem
    assert result.exception.path == str(bad)
    assert (result.exception.line is not None) == has_line
    assert all(p.read_bytes() == data for p, data in before.items())


def test_main_cli_exits_2_with_one_line(tmp_path):
    from crma_eval.cli import cli

    if "audit" not in cli.commands:
        cli.add_command(audit)
    result = CliRunner().invoke(cli, ["audit", "gsm8k", str(tmp_path), "--export", "x.csv"])
    assert result.exit_code == 2
    assert "no bench records" in result.output and "Traceback" not in result.output


def test_records_without_filters_and_bad_confidence_exit_2(tmp_path):
    from crma_eval.cli import cli

    if "audit" not in cli.commands:
        cli.add_command(audit)
    records, _ = _write_run(tmp_path)
    plain = [{k: v for k, v in r.items() if k != "filter"} for r in records]
    write_records(tmp_path / "records" / "bench.jsonl", plain[::3])
    for task, message in (([], "name the task"), (["--task", "gsm8k_crma"], "0 filter(s)")):
        args = ["audit", "gsm8k", str(tmp_path), "--export", str(tmp_path / "x.csv"), *task]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2, result.output
        assert message in result.output and "Traceback" not in result.output

    _write_run(tmp_path)
    head = _export(tmp_path, tmp_path / "a.csv")
    assert head["audit_id"]
    args = ["audit", "gsm8k", str(tmp_path), "--reviews", str(tmp_path / "a.csv")]
    result = CliRunner().invoke(cli, [*args, "--confidence", "1.5"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "confidence" in result.output


def test_audit_is_the_review_workflow_under_an_alias(tmp_path):
    """`review gsm8k` is `audit gsm8k`; the audit's read-back is the review workflow's: a
    tampered key is bad input naming the key, the same rater twice is refused, trailing blank
    rows a spreadsheet adds are passed over."""
    from crma_eval.cli import cli

    _, truth = _write_run(tmp_path)
    head = _export(tmp_path, tmp_path / "a.csv")
    key = _key(tmp_path, head["audit_id"])
    rows = _label(_rows(tmp_path / "a.csv"), key, truth)
    alice = _write_csv(tmp_path / "alice.csv", rows)
    bob = _write_csv(tmp_path / "bob.csv", rows[::-1])
    with open(bob, "a", encoding="utf-8") as fh:
        fh.write(",,,,,,\n")
    runner = CliRunner()
    outputs = [
        runner.invoke(cli, [verb, "gsm8k", str(tmp_path), "--reviews", str(alice), str(bob)])
        for verb in ("audit", "review")
    ]
    assert [o.exit_code for o in outputs] == [0, 0], outputs[0].output
    assert outputs[0].output == outputs[1].output and "kappa" in outputs[0].output

    twice = runner.invoke(cli, ["audit", "gsm8k", str(tmp_path), "--reviews", str(alice),
                                str(alice)])  # fmt: skip
    assert twice.exit_code == 2 and "the same rater given twice" in twice.output

    key_file = tmp_path / "audit" / f"{head['audit_id']}.json"
    first = sorted(key["items"])[0]
    key["items"][first]["verdicts"]["strict-match"] = "yes"
    key_file.write_text(json.dumps(key))
    bad = runner.invoke(cli, ["audit", "gsm8k", str(tmp_path), "--reviews", str(alice)])
    assert bad.exit_code == 2 and "Traceback" not in bad.output
    assert key_file.name in bad.output and f"items.{first}.verdicts" in bad.output


def test_a_blank_label_skips_the_item_as_review_import_does(tmp_path):
    from crma_eval.review.audit import LABELS as AUDIT_LABELS
    from crma_eval.review.sheet import LABELS as REVIEW_LABELS

    assert np.isnan(AUDIT_LABELS[""]) and np.isnan(REVIEW_LABELS[""])  # one rule for both
    _, truth = _write_run(tmp_path)
    head = _export(tmp_path, tmp_path / "a.csv")
    key = _key(tmp_path, head["audit_id"])
    rows = _label(_rows(tmp_path / "a.csv"), key, truth)
    rows[0] = {**rows[0], "label": " "}
    alice = _write_csv(tmp_path / "alice.csv", rows)
    result = CliRunner().invoke(audit, ["gsm8k", str(tmp_path), "--reviews", str(alice), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)
    assert summary["unlabelled"] == 1 and summary["ties"] == 0
    assert all(s["all"]["n"] == len(rows) - 1 for s in summary["scorers"].values())
    text = CliRunner().invoke(audit, ["gsm8k", str(tmp_path), "--reviews", str(alice)])
    assert "1 unlabelled item(s) left out" in text.output
