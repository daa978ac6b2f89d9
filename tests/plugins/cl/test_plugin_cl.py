"""cl plugin: every metric against an independent loop implementation and hand-computed values
(GEM's and Avalanche's conventions), records -> analyze -> metrics with known matrices, the
item-cluster interval, the modular attribution, loss matrices and the report section."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

from crma_eval.analyze import analyze_frames
from crma_eval.api.plugin import AnalyzeOptions
from crma_eval.api.registry import plugins
from crma_eval.plugins.cl import metrics as cm
from crma_eval.plugins.cl.section import cl_section

ORDER = ["med", "law", "fin"]


# Reference implementations, written from the papers' 1-based formulas with plain loops.
def ref(R: list[list[float]], joint: list[float] | None = None) -> dict[str, float]:
    T = len(R[0])
    r = lambda i, j: R[i][j - 1]  # noqa: E731  R_{i,j}, row 0 = base b
    out = {
        "acc": sum(r(T, j) for j in range(1, T + 1)) / T,
        "bwt": sum(r(T, j) - r(j, j) for j in range(1, T)) / (T - 1),
        "fwt": sum(r(j - 1, j) - r(0, j) for j in range(2, T + 1)) / (T - 1),
        "forgetting": sum(max(r(k, j) for k in range(1, T)) - r(T, j) for j in range(1, T))
        / (T - 1),
        "forgetting_avalanche": sum(r(j, j) - r(T, j) for j in range(1, T)) / (T - 1),
        "a": sum(r(i, j) for i in range(1, T + 1) for j in range(1, i + 1)) / (T * (T + 1) / 2),
        "bwt_diaz": sum(r(i, j) - r(j, j) for i in range(2, T + 1) for j in range(1, i))
        / (T * (T - 1) / 2),
    }
    out["rem"] = 1 - abs(min(out["bwt_diaz"], 0))
    if joint is not None:
        out["intransigence"] = sum(joint[k - 1] - r(k, k) for k in range(1, T + 1)) / T
    return out


# Row 0 = base; a domain rises after its phase, then is partly forgotten (med peaks at phase 2).
HAND = [
    [0.1, 0.2, 0.3],
    [0.6, 0.3, 0.35],
    [0.8, 0.7, 0.4],
    [0.5, 0.6, 0.9],
]


def test_hand_made_matrix_by_hand() -> None:
    got = {
        k: float(v) for k, v in cm.all_metrics(np.array(HAND), np.array([0.9, 0.8, 0.95])).items()
    }
    # ACC = (0.5 + 0.6 + 0.9)/3; BWT (GEM, /(T−1)) = ((0.5−0.6) + (0.6−0.7))/2 = −0.1
    assert got["acc"] == pytest.approx(2.0 / 3)
    assert got["bwt"] == pytest.approx(-0.1)
    # FWT = ((R12 − b2) + (R23 − b3))/2 = ((0.3 − 0.2) + (0.4 − 0.3))/2 = 0.1
    assert got["fwt"] == pytest.approx(0.1)
    # Chaudhry: med max(0.6, 0.8) − 0.5 = 0.3, law max(0.3, 0.7) − 0.6 = 0.1 -> 0.2;
    # Avalanche (no max): (0.6 − 0.5 + 0.7 − 0.6)/2 = 0.1 = −BWT
    assert got["forgetting"] == pytest.approx(0.2)
    assert got["forgetting_avalanche"] == pytest.approx(0.1) == -got["bwt"]
    # Intransigence = ((0.9 − 0.6) + (0.8 − 0.7) + (0.95 − 0.9))/3 = 0.15
    assert got["intransigence"] == pytest.approx(0.15)
    # A = (0.6 + 0.8 + 0.7 + 0.5 + 0.6 + 0.9)/6; BWT_Díaz = (0.2 − 0.1 − 0.1)/3 = 0
    assert got["a"] == pytest.approx(4.1 / 6)
    assert got["bwt_diaz"] == pytest.approx(0.0)
    assert got["rem"] == pytest.approx(1.0)


@pytest.mark.parametrize("T", [2, 3, 5])
def test_every_metric_matches_the_loop_reference(T: int) -> None:
    rng = np.random.default_rng(T)
    for _ in range(20):
        R = rng.uniform(0, 1, size=(T + 1, T))
        joint = rng.uniform(0, 1, size=T)
        got = cm.all_metrics(R, joint)
        want = ref(R.tolist(), joint.tolist())
        assert set(got) == set(want)
        for name, value in want.items():
            assert float(got[name]) == pytest.approx(value), name


def test_metrics_vectorise_over_leading_axes() -> None:
    R = np.random.default_rng(0).uniform(size=(4, 2, 4, 3))
    got = cm.all_metrics(R)
    for a, b in itertools.product(range(4), range(2)):
        assert float(got["forgetting"][a, b]) == pytest.approx(ref(R[a, b].tolist())["forgetting"])


def test_loss_matrix_keeps_the_accuracy_sign_and_reports_levels_in_loss() -> None:
    L = np.array([[3.0, 3.0], [1.0, 2.9], [1.5, 1.2]])  # domain 1 loss rises 1.0 -> 1.5
    got = cm.all_metrics(L, higher_is_better=False)
    assert float(got["bwt"]) == pytest.approx(-0.5)  # forgetting: negative, as for accuracy
    assert float(got["forgetting"]) == pytest.approx(0.5)
    assert float(got["fwt"]) == pytest.approx(0.1)  # 3.0 − 2.9: the first phase helped a little
    assert float(got["final_loss"]) == pytest.approx(1.35)
    assert float(got["a_loss"]) == pytest.approx((1.0 + 1.5 + 1.2) / 3)
    assert "rem" not in got and "acc" not in got


def test_forgetting_ignores_unmeasured_cells_in_its_max() -> None:
    R = np.array(HAND)
    R[1, 1:] = np.nan  # oracle routing: nothing measured before a domain's phase
    R[2, 2] = np.nan
    R[0] = np.nan
    assert float(cm.forgetting(R)) == pytest.approx(0.2)
    assert math.isnan(float(cm.fwt(R)))


# Records with known cell means: n items per domain, the first round(p * n) answer right.
N_ITEMS = 10


def qa_records(
    matrices: dict[int, np.ndarray], condition: str, arm: str, order=ORDER, base=True
) -> list[dict]:
    out = []
    for seed, R in matrices.items():
        for phase in range(0 if base else 1, len(order) + 1):
            for j, domain in enumerate(order):
                if np.isnan(R[phase, j]):
                    continue
                k = round(R[phase, j] * N_ITEMS)
                for i in range(N_ITEMS):
                    out.append(
                        {
                            "kind": "qa",
                            "arm": arm,
                            "condition": condition,
                            "seed": seed,
                            "domain": domain,
                            "item_id": f"{domain}-{i}",
                            "correct": i < k,
                            "checkpoint": f"{condition}-seed{seed}-phase{phase}",
                            "domain_order": order,
                        }
                    )
    return out


def frame(records: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(records)
    return df.assign(_file="r.jsonl", _line=np.arange(1, len(df) + 1))


def run(records: list[dict], **cl) -> dict:
    opts = AnalyzeOptions(extra={"cl": {"n_resamples": 200, **cl}})
    frames = {"qa": frame(records)}
    return analyze_frames(frames, opts, {"cl": plugins()["cl"]})


SEED_MATRICES = {
    0: np.array(HAND),
    1: np.array([[0.0, 0.1, 0.2], [0.7, 0.2, 0.3], [0.5, 0.9, 0.3], [0.4, 0.8, 1.0]]),
}


def test_records_to_metrics_per_seed_and_across_seeds() -> None:
    joint = {0: np.tile([[0.9, 0.8, 1.0]], (4, 1))}
    records = qa_records(SEED_MATRICES, "naive", "naive")
    records += qa_records(joint, "joint", "naive", base=False)
    result = run(records)
    m = result["metrics"]
    wanted = {s: ref(R.tolist(), [0.9, 0.8, 1.0]) for s, R in SEED_MATRICES.items()}
    for name in ("acc", "bwt", "fwt", "forgetting", "intransigence", "a", "bwt_diaz", "rem"):
        values = [wanted[s][name] for s in (0, 1)]
        assert m[f"cl.naive.{name}"] == pytest.approx(np.mean(values)), name
        assert m[f"cl.naive.{name}.std"] == pytest.approx(np.std(values, ddof=1)), name
        assert m[f"cl.naive.{name}.seed_1"] == pytest.approx(values[1]), name
        assert m[f"cl.naive.{name}.ci_low"] <= m[f"cl.naive.{name}.ci_high"]
    assert m["cl.naive.r2.law"] == pytest.approx((0.7 + 0.9) / 2)
    series = result["plugins"]["cl"]["details"]["series"][0]
    assert series["matrix"][3] == pytest.approx([0.45, 0.7, 0.95])
    info = result["meta"]["metric_info"]
    assert not [k for k in m if k.startswith("cl.") and info[k].get("fallback")]
    assert info["cl.naive.bwt.ci_low"]["of"] == "cl.naive.bwt"
    assert (info["cl.naive.bwt.ci_low"]["unit"], info["cl.naive.bwt"]["unit"]) == ("item", "seed")


def test_phase_from_after_phase_field_and_missing_base_says_why() -> None:
    records = qa_records(SEED_MATRICES, "modular", "with_crma", base=False)
    for r in records:
        r["after_phase"] = int(r.pop("checkpoint").rsplit("phase", 1)[1])
    result = run(records)
    m, series = result["metrics"], result["plugins"]["cl"]["details"]["series"][0]
    assert "cl.modular.fwt" not in m and "base model" in series["skipped"]["fwt"]
    assert "joint" in series["skipped"]["intransigence"]
    assert m["cl.modular.bwt"] == pytest.approx(
        np.mean([ref(R.tolist())["bwt"] for R in SEED_MATRICES.values()])
    )


def test_base_arm_is_row_zero_of_every_series() -> None:
    records = qa_records(SEED_MATRICES, "naive", "naive", base=False)
    base = np.full((4, 3), np.nan)
    base[0] = [0.3, 0.3, 0.3]
    records += qa_records({0: base}, "naive", "base")
    m = run(records)["metrics"]
    fwt = [ref(np.vstack([[0.3] * 3, R[1:]]).tolist())["fwt"] for R in SEED_MATRICES.values()]
    assert m["cl.naive.fwt"] == pytest.approx(np.mean(fwt))


def test_final_only_qa_is_skipped_with_a_reason_and_unphased_qa_is_not_cl_input() -> None:
    R = {0: np.array(HAND)}
    final = [r for r in qa_records(R, "naive", "naive") if r["checkpoint"].endswith("phase3")]
    result = run(final)
    assert "phase(s) 3 only" in result["plugins"]["cl"]["skipped"]
    for r in final:
        del r["checkpoint"]
    assert "cl" not in run(final)["plugins"]


def test_interval_clusters_on_the_item() -> None:
    # Every item answers the same at every phase and seed: BWT is 0 on every resample. A
    # bootstrap treating cells as independent would give a nonzero width.
    rng = np.random.default_rng(1)
    right = {d: rng.uniform(size=N_ITEMS) < 0.5 for d in ORDER}
    records = []
    for seed, phase, d in itertools.product((0, 1), range(4), ORDER):
        for i in range(N_ITEMS):
            records.append(
                {"kind": "qa", "arm": "frozen", "condition": "frozen", "seed": seed,
                 "domain": d, "item_id": f"{d}-{i}", "correct": bool(right[d][i]),
                 "after_phase": phase, "domain_order": ORDER}
            )  # fmt: skip
    m = run(records)["metrics"]
    assert m["cl.frozen.bwt"] == 0 and m["cl.frozen.bwt.ci_low"] == m["cl.frozen.bwt.ci_high"] == 0
    assert m["cl.frozen.acc.ci_low"] < m["cl.frozen.acc"] < m["cl.frozen.acc.ci_high"]


def test_acc_interval_width_matches_the_stratified_cluster_standard_error() -> None:
    rng = np.random.default_rng(2)
    n = 60
    records = []
    for d in ORDER:
        p = rng.uniform(0.2, 0.8, size=n)
        for seed, phase in itertools.product((0, 1), range(4)):
            ok = rng.uniform(size=n) < p
            records += [
                {"kind": "qa", "arm": "a", "condition": "c", "seed": seed, "domain": d,
                 "item_id": f"{d}{i}", "correct": bool(ok[i]), "after_phase": phase,
                 "domain_order": ORDER}
                for i in range(n)
            ]  # fmt: skip
    df = frame(records)
    m = run(records, n_resamples=4000)["metrics"]
    # ACC = mean_d mean_{items of d} z_i, z_i = the item's final-row mean over seeds:
    # Var = Σ_d var_d(z) / (n · T²) (items independent, resampled within domains).
    last = df[df["after_phase"] == 3].groupby(["domain", "item_id"])["correct"].mean()
    var = sum(last[d].var(ddof=0) / n for d in ORDER) / len(ORDER) ** 2
    width = m["cl.c.acc.ci_high"] - m["cl.c.acc.ci_low"]
    assert width == pytest.approx(2 * 1.96 * math.sqrt(var), rel=0.15)


def test_attribution_separates_shared_drift_from_routing_error() -> None:
    oracle = {0: np.array(HAND)}
    routed = {0: np.array(HAND) - np.array([[0, 0, 0]] + [[0.1, 0.1, 0.1]] * 3)}
    records = qa_records(oracle, "modular", "oracle") + qa_records(routed, "modular", "routed")
    for r in records:
        if r["arm"] == "routed":
            r["routed_domain"] = r["domain"]
    result = run(records, primary_arm={"modular": "oracle"}, routed_arm="routed")
    m = result["metrics"]
    # D: R[k, j] − R[j, j] below the diagonal: (0.8 − 0.6), (0.5 − 0.6), (0.6 − 0.7) -> mean 0
    assert m["cl.modular.attribution.shared_drift"] == pytest.approx(0.0)
    assert m["cl.modular.attribution.routing_error"] == pytest.approx(-0.1)
    assert "cl.modular.bwt" in m and "cl.modular.routed.bwt" in m


def loss_records(matrices: dict[int, np.ndarray], condition: str) -> list[dict]:
    return [
        {"kind": "loss", "condition": condition, "seed": seed, "after_phase": p,
         "domain": d, "loss": float(L[p, j]), "n_tokens": 100, "domain_order": ORDER}
        for seed, L in matrices.items()
        for p in range(4)
        for j, d in enumerate(ORDER)
    ]  # fmt: skip


def test_loss_matrix_with_a_base_row_and_drift_ignores_it() -> None:
    L = {s: 2.0 - R for s, R in SEED_MATRICES.items()}
    records = loss_records(L, "naive")
    opts = AnalyzeOptions(extra={})
    with_base = analyze_frames({"loss": frame(records)}, opts)
    without = analyze_frames({"loss": frame([r for r in records if r["after_phase"] >= 1])}, opts)
    m = with_base["metrics"]
    acc_bwt = np.mean([ref(R.tolist())["bwt"] for R in SEED_MATRICES.values()])
    assert m["cl.naive.loss.bwt"] == pytest.approx(acc_bwt)  # loss = 2 − accuracy
    assert m["cl.naive.loss.fwt"] == pytest.approx(
        np.mean([ref(R.tolist())["fwt"] for R in SEED_MATRICES.values()])
    )
    drift = {k: v for k, v in m.items() if k.startswith("drift.")}
    assert drift == {k: v for k, v in without["metrics"].items() if k.startswith("drift.")}
    assert "cl.naive.loss.fwt" not in without["metrics"]


def test_section_draws_heatmaps_tables_and_definitions() -> None:
    records = qa_records(SEED_MATRICES, "naive", "naive")
    result = run(records)
    section = cl_section({**result["plugins"]["cl"], "report": {}})
    ids = [getattr(b, "id", "") for b in section.blocks]
    assert "matrix-accuracy" in ids and "metrics-accuracy" in ids and "formulas" in ids
    figure = section.blocks[ids.index("matrix-accuracy")]
    assert "<svg" in figure.svg and "0.45" in figure.svg  # mean cell value printed
    assert any(term == "BWT" and "Continuum" in text for term, text in section.definitions)
