"""Spectral plugin: deviation of the mixing matrix's spectral norm from 1, per module and phase."""

from __future__ import annotations

from pathlib import Path

import pytest
from recordgen import frames, section_of, spectral

from crma_eval.api.blocks import Figure, KeyValues, Table
from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.errors import InputError
from crma_eval.plugins.spectral import SpectralPlugin
from crma_eval.plugins.spectral.collect import read_spectral_log

RECORDS = [
    spectral(0, "med", "layer0", 1.0, row_sum_err=1e-7, col_sum_err=2e-7),
    spectral(5, "med", "layer0", 1.0 + 3e-7, row_sum_err=4e-8),
    spectral(10, "law", "layer0", 1.0 - 2e-6),
    spectral(0, "med", "layer1", 1.0 - 5e-8),
    spectral(5, "med", "layer1", 1.0 + 4e-6, col_sum_err=1e-6),
    spectral(10, "law", "layer1", 1.0),
]


def test_deviation_summaries(tmp_path: Path) -> None:
    m = SpectralPlugin().analyze(frames(tmp_path, RECORDS), AnalyzeOptions()).metrics
    assert m["spectral.all.n"] == 6
    assert m["spectral.all.max_dev"] == pytest.approx(4e-6, rel=1e-6)
    assert m["spectral.all.n_over_tol"] == 2  # 2e-6 and 4e-6 exceed the default 1e-6
    assert m["spectral.all.max_row_sum_err"] == pytest.approx(1e-7)
    assert m["spectral.all.max_col_sum_err"] == pytest.approx(1e-6)
    assert m["spectral.layer0.n"] == 3
    assert m["spectral.layer0.max_dev"] == pytest.approx(2e-6, rel=1e-6)
    assert m["spectral.layer0.med.max_dev"] == pytest.approx(3e-7, rel=1e-6)
    assert m["spectral.layer0.med.n_over_tol"] == 0
    assert m["spectral.layer1.med.n_over_tol"] == 1
    assert m["spectral.layer1.law.max_dev"] == 0.0


def test_tolerance_option(tmp_path: Path) -> None:
    options = AnalyzeOptions(extra={"spectral_tolerance": 1e-7})
    result = SpectralPlugin().analyze(frames(tmp_path, RECORDS), options)
    assert result.metrics["spectral.all.n_over_tol"] == 3
    assert result.details["tolerance"] == 1e-7
    for bad in (-1, "loose", None, True):
        with pytest.raises(InputError, match="non-negative number") as err:
            SpectralPlugin().analyze(
                frames(tmp_path, RECORDS), AnalyzeOptions(extra={"spectral_tolerance": bad})
            )
        assert err.value.field == "spectral_tolerance"


def test_sum_errors_only_when_recorded(tmp_path: Path) -> None:
    records = [spectral(s, "med", "m", 1.0) for s in range(3)]
    result = SpectralPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert "spectral.all.max_row_sum_err" not in result.metrics
    assert result.metrics["spectral.all.max_dev"] == 0.0


def test_series_are_thinned_but_keep_the_largest_deviation(tmp_path: Path) -> None:
    records = [spectral(s, "med", "m", 1.0 + (1e-3 if s == 3777 else 1e-8)) for s in range(6000)]
    result = SpectralPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    (series,) = result.details["series"]
    assert len(series["step"]) <= 4000
    assert 3777 in series["step"]
    assert max(series["dev"]) == pytest.approx(1e-3)


def test_no_spectral_records_gives_none() -> None:
    assert SpectralPlugin().analyze({}, AnalyzeOptions()) is None


def test_report_section(tmp_path: Path) -> None:
    result = SpectralPlugin().analyze(frames(tmp_path, RECORDS), AnalyzeOptions())
    section = section_of(SpectralPlugin(), tmp_path, result)
    assert section.id == "spectral"
    headline = section.blocks[0]
    assert isinstance(headline, KeyValues)
    assert dict(headline.items)["over tolerance 1e-06"] == 2
    (table,) = [b for b in section.blocks if isinstance(b, Table)]
    assert [(r[0], r[1]) for r in table.rows] == [
        ("layer0", "med"), ("layer0", "law"), ("layer1", "med"), ("layer1", "law"),
    ]  # fmt: skip
    assert table.rows[0][2] == 2 and table.rows[0][3] == "0–5"
    (figure,) = [b for b in section.blocks if isinstance(b, Figure)]
    assert "exact zeros drawn at" in figure.caption
    assert figure.svg.startswith("<svg")


def test_step_ranges_and_counts_come_from_logged_steps(tmp_path: Path) -> None:
    """Issue 20: a log from step 100 to 400 every 100 steps, plus the checkpoint's own matrix
    (source checkpoint, step 0 without a manifest step) in the same phase: the table said
    '0–400' and 5 steps."""
    logged = [spectral(s, "law", "m", 1.0, source="log") for s in (100, 200, 300, 400)]
    logged += [spectral(300, "law", "m2", 1.0, source="log")]
    own = [spectral(0, "law", "m", 1.0 + 1e-3, source="checkpoint")]
    only_checkpoint = [spectral(0, "med", "m", 1.0, source="checkpoint")]
    result = SpectralPlugin().analyze(
        frames(tmp_path, logged + own + only_checkpoint), AnalyzeOptions()
    )
    rows = {(r["module"], r["phase"]): r for r in result.details["phases"]}
    law = rows[("m", "law")]
    assert (law["logged_steps"], law["first_step"], law["last_step"]) == (4, 100, 400)
    assert law["n"] == 5 and law["max_dev"] == pytest.approx(1e-3)  # the measurement counts
    assert rows[("m", "med")]["logged_steps"] == 0 and rows[("m", "med")]["first_step"] is None
    assert result.details["overall"]["logged_steps"] == 4  # distinct steps 100..400
    section = section_of(SpectralPlugin(), tmp_path, result)
    (table,) = [b for b in section.blocks if isinstance(b, Table)]
    shown = {(r[0], r[1]): r for r in table.rows}
    assert shown[("m", "law")][2:5] == [4, "100–400", 5]
    assert shown[("m", "med")][2:4] == [0, "—"]


def test_malformed_csv_log_is_bad_input(tmp_path: Path) -> None:
    # csv.Error (here: a field over the csv module's size limit) must not surface as a crash
    path = tmp_path / "spectral.csv"
    big = "x" * 200_000
    path.write_text(f'step,phase,module,spectral_norm\n1,a,m,1.0\n2,a,m,"{big}"\n')
    with pytest.raises(InputError, match="malformed CSV") as info:
        read_spectral_log(path, ["a", "b"])
    assert info.value.path == str(path) and info.value.line == 3
