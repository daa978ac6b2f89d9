"""Drift plugin: loss matrices, drift/holdout/advantage per seed, tests between conditions."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest
from recordgen import frames, loss_matrix, section_of, stored
from scipy import stats

from crma_eval.api.blocks import Figure, KeyValues, Table
from crma_eval.api.plugin import AnalysisResult, AnalyzeOptions
from crma_eval.errors import InputError
from crma_eval.labels import display_options
from crma_eval.plugins.drift import DriftPlugin

ORDER = ("law", "med", "code")  # trained in this order; not alphabetical, not file order
BASE = np.array([[1.0, 3.0, 3.1], [1.1, 0.9, 2.8], [1.3, 1.0, 0.8]])
SCALE = {"modular": {1: 1.0, 2: 1.02, 3: 0.97}, "naive": {1: 1.1, 2: 1.2, 3: 1.15}}
FORGET = {"modular": 0.0, "naive": 0.5}  # naive's last row forgets more


def _matrix(cond: str, seed: int) -> np.ndarray:
    m = BASE * SCALE[cond][seed]
    m[-1, :-1] *= 1 + FORGET[cond] + 0.01 * seed
    return m


def _drift(m: np.ndarray) -> float:
    t = len(m)
    return float(np.mean([(m[t - 1, d] - m[d, d]) / m[d, d] * 100 for d in range(t - 1)]))


def _records(shuffle: bool = True) -> list[dict]:
    records = [r for c in SCALE for s in SCALE[c] for r in loss_matrix(c, s, ORDER, _matrix(c, s))]
    if shuffle:
        random.Random(3).shuffle(records)
    return records


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> AnalysisResult:
    return DriftPlugin().analyze(
        frames(tmp_path_factory.mktemp("drift"), _records()), AnalyzeOptions()
    )


def test_per_seed_and_summary_numbers(result: AnalysisResult) -> None:
    m = result.metrics
    for cond in SCALE:
        drifts = [_drift(_matrix(cond, s)) for s in SCALE[cond]]
        holdouts = [float(_matrix(cond, s)[-1].mean()) for s in SCALE[cond]]
        for seed, drift, holdout in zip(SCALE[cond], drifts, holdouts, strict=True):
            assert m[f"drift.{cond}.seed_{seed}.drift"] == pytest.approx(drift)
            assert m[f"drift.{cond}.seed_{seed}.holdout"] == pytest.approx(holdout)
        assert m[f"drift.{cond}.drift.mean"] == pytest.approx(np.mean(drifts))
        assert m[f"drift.{cond}.drift.std"] == pytest.approx(np.std(drifts, ddof=1))
        assert m[f"drift.{cond}.drift.min"] == pytest.approx(min(drifts))
        assert m[f"drift.{cond}.holdout.max"] == pytest.approx(max(holdouts))
        assert m[f"drift.{cond}.holdout.n"] == 3
        law = [(_matrix(cond, s)[2, 0] / _matrix(cond, s)[0, 0] - 1) * 100 for s in SCALE[cond]]
        assert m[f"drift.{cond}.law.drift.mean"] == pytest.approx(np.mean(law))
        assert f"drift.{cond}.code.drift.mean" not in m  # the last domain has no drift


def test_advantage_both_directions(result: AnalysisResult) -> None:
    hold = {c: [_matrix(c, s)[-1].mean() for s in (1, 2, 3)] for c in SCALE}
    adv = [(b - a) / b * 100 for a, b in zip(hold["modular"], hold["naive"], strict=True)]
    assert result.metrics["drift.modular_over_naive.advantage.mean"] == pytest.approx(np.mean(adv))
    assert result.metrics["drift.modular_over_naive.advantage.std"] == pytest.approx(
        np.std(adv, ddof=1)
    )
    back = [(a - b) / a * 100 for a, b in zip(hold["modular"], hold["naive"], strict=True)]
    assert result.metrics["drift.naive_over_modular.advantage.mean"] == pytest.approx(np.mean(back))


def test_tests_between_conditions(result: AnalysisResult) -> None:
    a = [_drift(_matrix("modular", s)) for s in (1, 2, 3)]
    b = [_drift(_matrix("naive", s)) for s in (1, 2, 3)]
    welch = stats.ttest_ind(a, b, equal_var=False)
    m = result.metrics
    assert m["drift.modular_vs_naive.welch.statistic"] == pytest.approx(welch.statistic)
    assert m["drift.modular_vs_naive.welch.pvalue"] == pytest.approx(welch.pvalue)
    assert m["drift.modular_vs_naive.welch.df"] == pytest.approx(welch.df)
    exact = stats.permutation_test(
        (a, b), lambda x, y: np.mean(x) - np.mean(y), permutation_type="independent",
        n_resamples=np.inf, alternative="two-sided",
    )  # fmt: skip
    assert m["drift.modular_vs_naive.permutation.pvalue"] == pytest.approx(exact.pvalue)
    assert m["drift.modular_vs_naive.permutation.floor"] == pytest.approx(2 / 20)
    assert m["drift.modular_vs_naive.permutation.exact"] == 1.0
    assert m["drift.modular_vs_naive.disjoint"] == 1.0
    # Both directions exist whatever the file order; the statistic changes sign, p does not.
    assert m["drift.naive_vs_modular.welch.statistic"] == pytest.approx(-welch.statistic)
    assert m["drift.naive_vs_modular.permutation.pvalue"] == pytest.approx(exact.pvalue)


PAIRED_FORGET = {
    "a": {1: 0.10, 2: 0.30, 3: 0.22, 4: 0.05},
    "b": {1: 0.35, 2: 0.41, 3: 0.30, 4: 0.33},
}


def _forgot(f: float) -> np.ndarray:
    m = BASE.copy()
    m[-1, :-1] *= 1 + f
    return m


def _paired_records(forget: dict[str, dict[int, float]]) -> list[dict]:
    return [
        r
        for cond, per_seed in forget.items()
        for seed, f in per_seed.items()
        for r in loss_matrix(cond, seed, ORDER, _forgot(f))
    ]


def test_paired_by_seed_tests(tmp_path: Path) -> None:
    """Conditions share seeds (issue 20): per-seed differences, paired t and exact sign flips."""
    result = DriftPlugin().analyze(
        frames(tmp_path, _paired_records(PAIRED_FORGET)), AnalyzeOptions()
    )
    m = result.metrics
    a, b = ([_drift(_forgot(f)) for f in PAIRED_FORGET[c].values()] for c in ("a", "b"))
    ref = stats.ttest_rel(a, b)
    ci = ref.confidence_interval(0.95)
    prefix = "drift.a_vs_b.paired."
    assert m[prefix + "statistic"] == pytest.approx(ref.statistic)
    assert m[prefix + "pvalue"] == pytest.approx(ref.pvalue)
    assert m[prefix + "df"] == 3 and m[prefix + "n"] == 4
    assert m[prefix + "diff"] == pytest.approx(np.mean(np.subtract(a, b)))
    assert (m[prefix + "diff_ci_low"], m[prefix + "diff_ci_high"]) == (
        pytest.approx(ci.low),
        pytest.approx(ci.high),
    )
    flips = stats.permutation_test(
        (np.subtract(a, b),), np.mean, permutation_type="samples", n_resamples=np.inf,
    )  # fmt: skip
    assert m[prefix + "sign_flip_pvalue"] == pytest.approx(flips.pvalue)  # 2 / 16
    assert m["drift.b_vs_a.paired.pvalue"] == pytest.approx(ref.pvalue)
    assert "paired by seed" in result.methods["test_used"]


def test_paired_t_undefined_for_constant_differences(tmp_path: Path) -> None:
    same = {"a": {s: 0.1 * s for s in (1, 2, 3, 4)}, "b": {s: 0.1 * s + 0.2 for s in (1, 2, 3, 4)}}
    result = DriftPlugin().analyze(frames(tmp_path, _paired_records(same)), AnalyzeOptions())
    m = result.metrics
    assert np.isnan(m["drift.a_vs_b.paired.pvalue"])
    assert np.isnan(m["drift.a_vs_b.paired.statistic"])
    assert m["drift.a_vs_b.paired.sign_flip_pvalue"] == pytest.approx(2 / 2**4)


def test_domain_order_from_option(tmp_path: Path) -> None:
    records = [r for r in _records() if r.pop("domain_order")]
    with pytest.raises(InputError, match="domain_order is needed") as err:
        DriftPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert err.value.field == "domain_order" and err.value.line == 1
    options = AnalyzeOptions(extra={"drift": {"domain_order": list(ORDER)}})
    metrics = DriftPlugin().analyze(frames(tmp_path, records), options).metrics
    assert metrics["drift.naive.seed_2.drift"] == pytest.approx(_drift(_matrix("naive", 2)))


def test_domain_order_missing_for_one_seed(tmp_path: Path) -> None:
    records = _records(shuffle=False)
    for r in records:
        if r["condition"] == "naive" and r["seed"] == 2:
            del r["domain_order"]
    with pytest.raises(InputError, match="condition 'naive', seed 2"):
        DriftPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())


def test_inconsistent_domain_order(tmp_path: Path) -> None:
    records = _records(shuffle=False)
    records[4]["domain_order"] = ["med", "law", "code"]
    with pytest.raises(InputError, match="differs from the domain_order") as err:
        DriftPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert err.value.line == 5


@pytest.mark.parametrize(("phase", "domain"), [(2, "med"), (3, "law")])
def test_missing_cell_names_condition_seed_phase_domain(
    tmp_path: Path, phase: int, domain: str
) -> None:
    records = [
        r
        for r in _records()
        if not (
            r["condition"] == "naive"
            and r["seed"] == 3
            and r["after_phase"] == phase
            and r["domain"] == domain
        )
    ]
    with pytest.raises(InputError) as err:
        DriftPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert err.value.problem.startswith(
        f"missing loss for condition 'naive', seed 3, after_phase {phase}, domain '{domain}'"
    )
    assert err.value.path == str(tmp_path / "records.jsonl")


def test_cells_not_needed_may_be_missing(tmp_path: Path) -> None:
    records = [r for r in _records() if not (r["after_phase"] == 1 and r["domain"] == "code")]
    result = DriftPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert result.metrics["drift.modular.seed_1.drift"] == pytest.approx(
        _drift(_matrix("modular", 1))
    )
    assert result.details["conditions"][0]["matrix"]["loss"][0][2] is None


def test_seeds_must_match_across_conditions(tmp_path: Path) -> None:
    records = [
        r for r in _records(shuffle=False) if not (r["condition"] == "naive" and r["seed"] == 2)
    ]
    with pytest.raises(InputError, match=r"seed 2 .* no loss records for condition 'naive'") as err:
        DriftPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert err.value.field == "seed"


def test_two_records_for_one_cell(tmp_path: Path) -> None:
    records = _records(shuffle=False)
    records.append({**records[0], "checkpoint": "other", "loss": 9.0})
    with pytest.raises(InputError, match="a second loss record") as err:
        DriftPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert err.value.line == len(records)


def test_phase_beyond_domain_order(tmp_path: Path) -> None:
    records = _records(shuffle=False)
    records.append({**records[0], "after_phase": 4})
    with pytest.raises(InputError, match="exceeds the 3 phases"):
        DriftPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())


def test_single_seed_has_no_welch(tmp_path: Path) -> None:
    records = [r for r in _records() if r["seed"] == 1]
    result = DriftPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
    assert np.isnan(result.metrics["drift.modular.drift.std"])
    assert np.isnan(result.metrics["drift.modular_vs_naive.welch.statistic"])
    assert result.metrics["drift.modular_vs_naive.permutation.pvalue"] == 1.0
    section = section_of(DriftPlugin(), tmp_path, result)
    assert section.blocks[1].rows[-1][1].endswith("± —")


def test_no_loss_records_gives_none() -> None:
    assert DriftPlugin().analyze({}, AnalyzeOptions()) is None


def test_report_section(result: AnalysisResult, tmp_path: Path) -> None:
    entry = stored(tmp_path, result)
    entry["report"] = display_options({"report": {"proposed": "modular", "baseline": "naive"}})
    section = DriftPlugin().report_section(entry)
    assert section.id == "drift"
    assert isinstance(section.blocks[0], KeyValues)
    tables = [b for b in section.blocks if isinstance(b, Table)]
    seeds, domains, paired, tests = tables
    # the configured order (NAIVE before MODULAR), not first appearance or alphabetical order
    assert seeds.columns == [
        "Seed",
        "NAIVE drift (%)",
        "MODULAR drift (%)",
        "NAIVE final holdout (nats/token)",
        "MODULAR final holdout (nats/token)",
        "MOD advantage (%)",
    ]
    advantages = []
    for row, seed in zip(seeds.rows, SCALE["modular"], strict=False):
        naive, modular = _matrix("naive", seed), _matrix("modular", seed)
        holdout_naive, holdout_modular = float(naive[-1].mean()), float(modular[-1].mean())
        advantages.append((holdout_naive - holdout_modular) / holdout_naive * 100)  # paper's sign
        assert row == [
            seed,
            f"{_drift(naive):+.2f}%",
            f"{_drift(modular):+.2f}%",
            f"{holdout_naive:.4f}",
            f"{holdout_modular:.4f}",
            f"{advantages[-1]:+.2f}%",
        ]
    total = seeds.rows[-1]
    assert len(seeds.rows) == 4 and total[0] == "mean ± sd (n = 3)"
    assert total[-1] == f"{np.mean(advantages):+.2f}% ± {np.std(advantages, ddof=1):.2f}"
    assert seeds.total_row and "the paper's sign" in seeds.notes[-1]
    assert domains.columns == ["Condition", "law (%)", "med (%)"]
    assert [r[0] for r in domains.rows] == ["NAIVE", "MODULAR"]
    assert paired.rows[0][0] == "NAIVE vs MODULAR" and "the test used" in paired.caption
    assert tests.columns[5:7] == ["permutation p", "floor"]
    assert tests.rows[0][0] == "NAIVE vs MODULAR"
    assert tests.rows[0][6] == "0.1" and tests.rows[0][-1] == "yes"
    figures = [b for b in section.blocks if isinstance(b, Figure)]
    assert [f.id for f in figures] == ["drift-per-condition", "drift-advantage", "drift-heatmaps"]
    assert all(f.svg.startswith("<svg") and f.alt for f in figures)


def test_report_order_and_names_come_from_the_config(
    result: AnalysisResult, tmp_path: Path
) -> None:
    entry = stored(tmp_path, result)
    given = {"order": ["modular", "naive"], "display_names": {"modular": "Ours", "naive": "Plain"}}
    entry["report"] = display_options({"report": given})  # default pair: modular over frozen
    section = DriftPlugin().report_section(entry)
    seeds = next(b for b in section.blocks if isinstance(b, Table))
    assert seeds.columns[1:3] == ["Ours drift (%)", "Plain drift (%)"]
    assert not any("advantage" in c for c in seeds.columns)  # no frozen: no advantage column
    assert "drift-advantage" not in [getattr(b, "id", None) for b in section.blocks]


def test_zero_trained_loss_or_holdout_is_an_error(tmp_path: Path) -> None:
    records = _records(shuffle=False)
    zero_final = [{**r, "loss": 0.0} if r["after_phase"] == 3 else r for r in records]
    with pytest.raises(InputError, match=r"final holdout loss of condition .* is 0") as zero:
        DriftPlugin().analyze(frames(tmp_path, zero_final), AnalyzeOptions())
    assert zero.value.path and zero.value.path.endswith(".jsonl")
    zero_diag = [
        {**r, "loss": 0.0} if (r["after_phase"], r["domain"]) == (2, "med") else r for r in records
    ]
    with pytest.raises(InputError, match="relative drift is undefined") as err:
        DriftPlugin().analyze(frames(tmp_path, zero_diag, "diag.jsonl"), AnalyzeOptions())
    assert err.value.field == "loss"


@pytest.mark.parametrize(
    ("tiny", "later"), [(1e-300, 1.0), (1e-300, 1e10), (1e-90, 1e20), (1e-80, 1.0)]
)
def test_a_drift_beyond_the_bound_is_an_error_naming_the_loss(
    tmp_path: Path, tiny: float, later: float
) -> None:
    """(later - tiny) / tiny * 100 leaves ±1e75 (or overflows): Welch's df takes fourth powers
    of the per-seed drifts, inf beyond it (1e-80 gave a NaN df that scipy wrote as 1)."""
    records = _records(shuffle=False)
    odd = [
        {**r, "loss": tiny}
        if (r["after_phase"], r["domain"]) == (2, "med")
        else {**r, "loss": later}
        if (r["after_phase"], r["domain"]) == (3, "med")
        else r
        for r in records
    ]
    drift = (later - tiny) / tiny * 100
    assert not (np.isfinite(drift) and abs(drift) < np.finfo(float).max ** 0.25)  # this case
    with pytest.raises(InputError, match=r"relative drift of .* beyond ±1e\+75") as err:
        DriftPlugin().analyze(frames(tmp_path, odd), AnalyzeOptions())
    assert err.value.field == "loss" and err.value.line is not None


def test_a_learning_advantage_beyond_the_bound_names_condition_seed_and_file(
    tmp_path: Path,
) -> None:
    tiny_final = [
        {**r, "loss": 1e-300} if (r["condition"], r["after_phase"]) == ("modular", 3) else r
        for r in _records(shuffle=False)
    ]
    with pytest.raises(InputError, match=r"learning advantage of condition 'naive', seed 1") as err:
        DriftPlugin().analyze(frames(tmp_path, tiny_final), AnalyzeOptions())
    assert err.value.field == "loss" and err.value.path and err.value.path.endswith(".jsonl")


def test_seeds_with_different_phases_are_bad_input(tmp_path: Path) -> None:
    """A T = 4 seed beside a T = 5 seed of one condition would mix holdouts: exit 2."""
    five, four = ["a", "b", "c", "d", "e"], ["a", "b", "c", "d"]
    records = [
        *loss_matrix("naive", 1, five, [[1.0] * 5] * 5),
        *loss_matrix("naive", 2, four, [[1.0] * 4] * 4),
    ]
    with pytest.raises(InputError, match=r"condition 'naive'.*seed 1 has T = 5.*seed 2 has T = 4"):
        DriftPlugin().analyze(frames(tmp_path, records), AnalyzeOptions())
