"""Record reading and validation: every kind, extra fields kept, errors name file and line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crma_eval.api.plugin import MAX_MAGNITUDE
from crma_eval.errors import InputError
from crma_eval.records import load_records, record_json, write_records

GOOD = [
    {"kind": "qa", "arm": "with_crma", "domain": "med", "item_id": 1, "correct": True, "x": [1]},
    {"kind": "loss", "condition": "naive", "seed": 0, "after_phase": 1, "domain": "med",
     "loss": 1.25, "n_tokens": 100, "domain_order": ["med"]},
    {"kind": "route", "item_id": "q1", "category": "ood", "gold": None, "predicted": None,
     "score": 0.2, "scores": {"med": 0.2}},
    {"kind": "spectral", "step": 5, "phase": "med", "module": "layers.1.mix",
     "spectral_norm": 1.0, "row_sum_err": 0.0},
    {"kind": "bench", "task": "arc", "arm": "base", "doc_id": 3, "metric": "acc", "value": 1.0},
]  # fmt: skip


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_kind_loads_with_extra_fields_kept(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "r.jsonl", [json.dumps(r) for r in GOOD])
    frames = load_records([path])
    assert sorted(frames) == ["bench", "loss", "qa", "route", "spectral"]
    qa = frames["qa"].iloc[0]
    assert qa["item_id"] == "1"  # numbers become text ids
    assert qa["x"] == [1]  # unknown extra field kept
    assert qa["_file"] == str(path) and qa["_line"] == 1
    assert frames["bench"].iloc[0]["doc_id"] == "3"
    assert frames["loss"].iloc[0]["domain_order"] == ["med"]


def test_records_round_trip_through_writer(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "a.jsonl", [json.dumps(r) for r in GOOD])
    rows = [r for f in load_records([path]).values() for r in f.to_dict(orient="records")]
    out = tmp_path / "b.jsonl"
    write_records(out, rows)
    again = load_records([out])
    assert {k: len(v) for k, v in again.items()} == {k: 1 for k in again}
    assert '"_file"' not in out.read_text()


def test_parquet_records(tmp_path: Path) -> None:
    rows = [{"kind": "qa", "arm": "a", "domain": "d", "item_id": str(i), "correct": i % 2 == 0}
            for i in range(4)]  # fmt: skip
    path = tmp_path / "r.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    frame = load_records([path])["qa"]
    assert frame["correct"].tolist() == [True, False, True, False]
    rows[2]["correct"] = "maybe"
    pq.write_table(pa.Table.from_pylist([{**r, "correct": str(r["correct"])} for r in rows]), path)
    # "True"/"False" text (CSV-like cells) is read as a boolean; "maybe" is not
    with pytest.raises(InputError, match=r"r\.parquet:3: field 'correct': expected true/false"):
        load_records([path])


def test_parquet_route_records_keep_null_gold(tmp_path: Path) -> None:
    # gold/predicted are required but null for OOD queries: a Parquet null must not read as absent
    rows = [
        {"kind": "route", "item_id": "q1", "category": "ood", "gold": None, "predicted": None,
         "score": 0.2},
        {"kind": "route", "item_id": "q2", "category": "in_domain", "gold": "med",
         "predicted": "med", "score": 0.9},
    ]  # fmt: skip
    path = tmp_path / "r.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path)
    route = load_records([path])["route"]
    assert route["gold"].isna().tolist() == [True, False]
    assert route["predicted"].tolist()[1] == "med"


BAD = [
    ("{not json", "malformed JSON"),
    ('{"kind": "qa", "arm": "a", "domain": "d", "item_id": "1"}', "field 'correct': missing"),
    ('{"kind": "qa", "arm": "a", "domain": "d", "item_id": "1", "correct": "yes"}',
     "field 'correct'"),
    ('{"kind": "loss", "condition": "n", "seed": 0, "after_phase": 1, "domain": "d", '
     '"loss": NaN, "n_tokens": 5}', "field 'loss'"),
    ('{"kind": "loss", "condition": "n", "seed": 0, "after_phase": 1, "domain": "d", '
     '"loss": -0.5, "n_tokens": 5}', "field 'loss'"),
    ('{"kind": "loss", "condition": "n", "seed": 0, "after_phase": -1, "domain": "d", '
     '"loss": 1.0, "n_tokens": 5}', "field 'after_phase'"),
    ('{"kind": "route", "item_id": "q", "category": "weird", "gold": null, "predicted": null, '
     '"score": 1}', "field 'category'"),
    ('{"kind": "mystery"}', "unknown record kind 'mystery'"),
    ('{"arm": "a"}', "field 'kind': missing"),
    ("[1, 2]", "expected a JSON object"),
]  # fmt: skip


@pytest.mark.parametrize(("line", "message"), BAD)
def test_bad_record_names_file_line_and_problem(tmp_path: Path, line: str, message: str) -> None:
    good = json.dumps(GOOD[0])
    path = write_lines(tmp_path / "bad.jsonl", [good, "", line])
    with pytest.raises(InputError) as info:
        load_records([path])
    text = info.value.one_line()
    assert text.startswith(f"{path}:3: ")
    assert message in text
    assert "\n" not in text


def test_duplicate_items_are_rejected_at_the_second_line(tmp_path: Path) -> None:
    rec = json.dumps(GOOD[0])
    other = json.dumps({**GOOD[0], "arm": "without_crma"})
    path = write_lines(tmp_path / "dup.jsonl", [rec, other, rec])
    with pytest.raises(InputError, match=r"dup\.jsonl:3: duplicate qa record \(arm=with_crma"):
        load_records([path])


def test_duplicates_across_files_are_found(tmp_path: Path) -> None:
    a = write_lines(tmp_path / "a.jsonl", [json.dumps(GOOD[1])])
    b = write_lines(tmp_path / "b.jsonl", [json.dumps(GOOD[1])])
    with pytest.raises(InputError, match=r"b\.jsonl:1: duplicate loss record"):
        load_records([a, b])


def test_same_item_under_another_seed_is_not_a_duplicate(tmp_path: Path) -> None:
    lines = [json.dumps({**GOOD[0], "seed": s}) for s in (0, 1)]
    assert len(load_records([write_lines(tmp_path / "s.jsonl", lines)])["qa"]) == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"", "empty record file"), (b"\n  \n", "empty record file"),
     (b"\x00\x01\x02binary", "binary file"), (b'{"kind": "qa"\xff}\n', "malformed JSON")],
)  # fmt: skip
def test_unreadable_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        load_records([path])


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope\.jsonl: file not found"):
        load_records([tmp_path / "nope.jsonl"])


def test_record_json_drops_source_columns_and_missing_values() -> None:
    record = {"kind": "route", "_file": "x", "_line": 3, "seed": float("nan"), "a": None}
    assert json.loads(record_json({**record, "gold": None})) == {"kind": "route", "gold": None}
    nan_gold = {**record, "gold": float("nan")}
    assert json.loads(record_json(nan_gold)) == {"kind": "route", "gold": None}


@settings(max_examples=60, deadline=None)
@given(
    magnitude=st.floats(min_value=1.0, max_value=1e308),
    sign=st.sampled_from([1.0, -1.0]),
    field=st.sampled_from(["loss", "score"]),
)
def test_numbers_beyond_1e100_are_refused_naming_the_field(
    tmp_path_factory: pytest.TempPathFactory, magnitude: float, sign: float, field: str
) -> None:
    # a finite 1e306 squares to inf: every statistic over it would overflow to a silent null
    value = sign * magnitude
    record = (
        {"kind": "loss", "condition": "c", "seed": 0, "after_phase": 1, "domain": "d",
         "loss": abs(value), "n_tokens": 3}
        if field == "loss"
        else {"kind": "qa", "arm": "a", "domain": "d", "item_id": "1", "correct": True,
              "score": value}
    )  # fmt: skip
    path = tmp_path_factory.mktemp("big") / "r.jsonl"
    path.write_text(json.dumps(record) + "\n")
    if abs(value) <= MAX_MAGNITUDE:
        frame = load_records([path])[record["kind"]]
        assert float(frame[field].iloc[0]) == abs(value) if field == "loss" else value
        assert float(frame[field].iloc[0]) ** 2 < float("inf")
    else:
        with pytest.raises(InputError, match=r"must be [≤≥] -?1e\+100") as info:
            load_records([path])
        assert info.value.line == 1 and info.value.field == field


@pytest.mark.parametrize("step", [int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)])
def test_whole_numbers_of_int64_are_read(tmp_path: Path, step: int) -> None:
    path = tmp_path / "q.jsonl"
    row = {"kind": "qa", "arm": "a", "domain": "d", "item_id": "1", "correct": True}
    path.write_text(json.dumps(row | {"seed": int(step)}) + "\n")
    assert load_records([path])["qa"]["seed"].tolist() == [step]


@pytest.mark.parametrize("step", [int(np.iinfo(np.int64).min) - 1, int(np.iinfo(np.int64).max) + 1])
def test_whole_numbers_beyond_int64_are_refused(tmp_path: Path, step: int) -> None:
    path = tmp_path / "s.jsonl"
    row = {"kind": "spectral", "step": step, "phase": "a", "module": "m", "spectral_norm": 1.0}
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(InputError, match="step") as info:
        load_records([path])
    assert info.value.line == 1
