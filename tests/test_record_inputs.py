"""Record files people produce: CSV/TSV, JSON arrays, gzip, Parquet extras, --kind, 1/0 booleans,
numbers that refuse booleans, and "not finite" for NaN/inf (in-process and through the CLI)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from cliedge import Finished, crma_eval

from crma_eval.errors import InputError
from crma_eval.records import load_records

QA = [
    {"kind": "qa", "arm": "a", "domain": "d", "item_id": f"00{i}", "correct": i % 3 != 0}
    for i in range(6)
]
LOSS = {
    "kind": "loss",
    "condition": "c",
    "seed": 0,
    "after_phase": 1,
    "domain": "d",
    "loss": 1.25,
    "n_tokens": 10,
}


def _cli(*args: str) -> Finished:
    return crma_eval("analyze", *args)


def _one_line_exit_2(proc: Finished, *parts: str) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for part in parts:
        assert part in lines[0]
    return lines[0]


def _expected(frame: pd.DataFrame) -> list[tuple]:
    return list(frame[["item_id", "correct"]].itertuples(index=False, name=None))


def _want() -> list[tuple]:
    return [(r["item_id"], r["correct"]) for r in QA]


def test_csv_and_tsv_keep_text_ids_and_read_1_0_booleans(tmp_path: Path) -> None:
    frame = pd.DataFrame(QA).assign(correct=lambda f: f["correct"].astype(int))
    frame.to_csv(tmp_path / "r.csv", index=False)
    frame.to_csv(tmp_path / "r.tsv", index=False, sep="\t")
    for name in ("r.csv", "r.tsv"):
        assert _expected(load_records([tmp_path / name])["qa"]) == _want()


def test_json_array_from_pandas(tmp_path: Path) -> None:
    path = tmp_path / "r.json"
    pd.DataFrame(QA).to_json(path, orient="records")
    assert _expected(load_records([path])["qa"]) == _want()


def test_json_array_items_must_be_objects(tmp_path: Path) -> None:
    path = tmp_path / "l.json"
    path.write_text(json.dumps([LOSS, 3]))
    with pytest.raises(InputError, match="expected a JSON object") as info:
        load_records([path])
    assert info.value.line == 2


def test_gzip_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    path.write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in QA).encode()))
    assert _expected(load_records([path])["qa"]) == _want()
    path.write_bytes(b"not gzip")
    with pytest.raises(InputError, match="gzip"):
        load_records([path])


def test_kind_given_for_files_without_kind(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    pd.DataFrame(QA).drop(columns="kind").to_csv(path, index=False)
    with pytest.raises(InputError, match="--kind") as info:
        load_records([path])
    assert info.value.line == 2 and info.value.field == "kind"
    assert _expected(load_records([path], kind="qa")["qa"]) == _want()
    jsonl = tmp_path / "r.jsonl"
    rows = [{k: v for k, v in QA[0].items() if k != "kind"}, {**QA[1], "kind": None}]
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert _expected(load_records([jsonl], kind="qa")["qa"]) == _want()[:2]
    with pytest.raises(InputError, match="unknown record kind 'nope'"):
        load_records([path], kind="nope")


@pytest.mark.parametrize(
    ("field", "value"), [("loss", True), ("after_phase", True), ("seed", False)]
)
def test_booleans_refused_where_numbers_belong(tmp_path: Path, field: str, value: bool) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text(json.dumps({**LOSS, field: value}) + "\n")
    with pytest.raises(InputError, match="got a boolean") as info:
        load_records([path])
    assert info.value.field == field and info.value.line == 1


@pytest.mark.parametrize("value", [2, -1, "maybe", 0.5])
def test_correct_takes_only_true_false_1_0(tmp_path: Path, value: object) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(json.dumps({**QA[0], "correct": value}) + "\n")
    with pytest.raises(InputError, match="expected true/false or 1/0"):
        load_records([path])


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_jsonl_nan_is_not_finite(tmp_path: Path, token: str) -> None:
    path = tmp_path / "l.jsonl"
    path.write_text(json.dumps(LOSS).replace("1.25", token) + "\n")
    with pytest.raises(InputError, match="not finite") as info:
        load_records([path])
    assert info.value.field == "loss"


def test_parquet_nan_is_not_finite(tmp_path: Path) -> None:
    path = tmp_path / "l.parquet"
    pd.DataFrame([LOSS, {**LOSS, "domain": "e", "loss": float("nan")}]).to_parquet(path)
    with pytest.raises(InputError, match="not finite") as info:
        load_records([path])
    assert info.value.line == 2 and info.value.field == "loss"


def test_parquet_extra_timestamp_and_binary_columns(tmp_path: Path) -> None:
    when = dt.datetime(2024, 5, 1, 12, 30, tzinfo=dt.timezone.utc)
    path = tmp_path / "l.parquet"
    pq.write_table(pa.Table.from_pylist([{**LOSS, "written": when}]), path)
    frame = load_records([path])["loss"]
    assert frame["written"].tolist() == [when.isoformat()]
    pq.write_table(pa.Table.from_pylist([{**LOSS, "blob": b"\x00\x01"}]), path)
    with pytest.raises(InputError, match="binary values") as info:
        load_records([path])
    assert info.value.field == "blob" and info.value.line == 1


# --- through the CLI: exit codes, one line, nothing lost ---


def test_cli_reads_csv_with_kind_and_keeps_outputs_on_error(tmp_path: Path) -> None:
    csv_path = tmp_path / "qa.csv"
    rows = [{**r, "arm": arm} for arm in ("x", "y") for r in QA]
    pd.DataFrame(rows).drop(columns="kind").to_csv(csv_path, index=False)
    out = tmp_path / "out"
    ok = _cli(str(csv_path), "--kind", "qa", "--out", str(out), "--no-report", "--json")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["qa.x.accuracy"] == pytest.approx(4 / 6)
    copied = (out / "records" / "qa.jsonl").read_text().splitlines()
    assert all(json.loads(line)["kind"] == "qa" for line in copied) and len(copied) == 12
    results = (out / "results.json").read_bytes()
    bad = _cli(str(csv_path), "--out", str(out), "--no-report")
    _one_line_exit_2(bad, "qa.csv:2", "--kind")
    assert (out / "results.json").read_bytes() == results


@pytest.mark.parametrize(
    ("name", "content", "parts"),
    [
        ("l.jsonl", json.dumps({**LOSS, "loss": True}), ("l.jsonl:1", "'loss'", "boolean")),
        ("l.jsonl", json.dumps(LOSS).replace("1.25", "NaN"), ("'loss'", "not finite")),
        ("q.csv", "kind,arm,domain,item_id,correct\nqa,a,d,1,2\n", ("q.csv:2", "1/0")),
    ],
)
def test_cli_bad_records_exit_2(tmp_path: Path, name: str, content: str, parts: tuple) -> None:
    path = tmp_path / name
    path.write_text(content + "\n")
    _one_line_exit_2(_cli(str(path), "--out", str(tmp_path / "o"), "--no-report"), *parts)


def test_cli_parquet_nan_and_binary(tmp_path: Path) -> None:
    nan = tmp_path / "n.parquet"
    pd.DataFrame([{**LOSS, "loss": float("nan")}]).to_parquet(nan)
    blob = tmp_path / "b.parquet"
    pq.write_table(pa.Table.from_pylist([{**LOSS, "blob": b"x"}]), blob)
    out = str(tmp_path / "o")
    _one_line_exit_2(_cli(str(nan), "--out", out, "--no-report"), "n.parquet:1", "not finite")
    _one_line_exit_2(_cli(str(blob), "--out", out, "--no-report"), "b.parquet:1", "'blob'")
