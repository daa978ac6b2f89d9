"""Router metrics (OOD detection, calibration, selective routing, threshold, oracle gap) checked
against scikit-learn, statsmodels and plain numpy computed independently."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from recordgen import frames, qa, route, section_of
from sklearn.metrics import average_precision_score, f1_score, roc_auc_score, roc_curve
from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

from crma_eval.api.blocks import Figure
from crma_eval.api.plugin import AnalysisResult, AnalyzeOptions
from crma_eval.plugins.router import RouterPlugin
from crma_eval.plugins.router import metrics as rm
from crma_eval.stats.resample import rows_bootstrap_ci

TOL = 1e-9


@st.composite
def scored(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(3, 60))
    labels = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    scores = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))  # ties on purpose
    return np.array(labels), np.array(scores, dtype=float) / 12


@settings(max_examples=150, deadline=None)
@given(scored())
def test_ood_detection_matches_sklearn(data: tuple[np.ndarray, np.ndarray]) -> None:
    y, s = data
    if y.all() or not y.any():
        assert np.isnan(rm.auroc(y, s)) and np.isnan(rm.aupr(y, s))
        return
    assert rm.auroc(y, s) == pytest.approx(roc_auc_score(y, s), abs=TOL)
    assert rm.aupr(y, s) == pytest.approx(average_precision_score(y, s), abs=TOL)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert rm.fpr_at_tpr(y, s) == pytest.approx(fpr[np.nonzero(tpr >= 0.95)[0][0]], abs=TOL)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from("abcN"), st.sampled_from("abcdN")), min_size=1))
def test_macro_f1_matches_sklearn(pairs: list[tuple[str, str]]) -> None:
    gold = np.array([g for g, _ in pairs], dtype=object)
    pred = np.array([p for _, p in pairs], dtype=object)
    labels = sorted(set(gold) - {"N"})
    if not labels:
        return
    expected = f1_score(gold, pred, labels=labels, average="macro", zero_division=0)
    assert rm.macro_f1(gold, pred, labels) == pytest.approx(expected, abs=TOL)


def _ece_reference(conf: np.ndarray, correct: np.ndarray, n_bins: int = 15) -> float:
    edges = np.linspace(0, 1, n_bins + 1)
    total = 0.0
    for i in range(n_bins):
        lo, hi = edges[i], edges[i + 1]
        mask = (conf > lo) & (conf <= hi) if i else (conf >= lo) & (conf <= hi)
        if mask.any():
            total += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return total


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.floats(0, 1), st.booleans()), min_size=1, max_size=80))
def test_ece_matches_a_direct_computation(rows: list[tuple[float, bool]]) -> None:
    conf = np.array([c for c, _ in rows])
    correct = np.array([k for _, k in rows])
    out = rm.reliability(conf, correct)
    assert out["ece"] == pytest.approx(_ece_reference(conf, correct), abs=TOL)
    assert sum(b["n"] for b in out["bins"]) == conf.size


def test_ece_rejects_confidence_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rm.reliability(np.array([0.5, 1.2]), np.array([True, False]))


@settings(max_examples=100, deadline=None)
@given(scored())
def test_aurc_is_mean_risk_of_the_top_k(data: tuple[np.ndarray, np.ndarray]) -> None:
    correct, s = data
    # Expected misroutes among the top k over all orders of tied scores: query i is among the
    # first k with probability clip((k - #higher) / #tied, 0, 1) (independent of the code).
    higher = np.array([(s > v).sum() for v in s])
    tied = np.array([(s == v).sum() for v in s])
    risks = [
        np.sum(np.clip((k - higher) / tied, 0, 1) * ~correct) / k for k in range(1, s.size + 1)
    ]
    assert rm.risk_coverage(s, correct)["aurc"] == pytest.approx(np.mean(risks), abs=TOL)
    shuffled = np.random.default_rng(s.size).permutation(s.size)
    assert rm.risk_coverage(s[shuffled], correct[shuffled])["aurc"] == pytest.approx(
        rm.risk_coverage(s, correct)["aurc"], abs=TOL
    )


@settings(max_examples=100, deadline=None)
@given(scored(), st.sampled_from([0.0, 0.05, 0.2, 0.5]))
def test_recommended_threshold_is_lowest_with_target_fpr(
    data: tuple[np.ndarray, np.ndarray], target: float
) -> None:
    in_dist, s = data
    ood = ~in_dist
    t = rm.recommended_threshold(s, ood, target)
    if not ood.any():
        assert np.isnan(t)
        return
    assert np.mean(s[ood] >= t) <= target
    lower = [c for c in np.unique(s) if c < t]
    assert all(np.mean(s[ood] >= c) > target for c in lower)


def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(1)
    y, s = rng.random(80) < 0.7, rng.random(80)
    s[y] += 0.3
    a = rows_bootstrap_ci(rm.auroc, (y, s), seed=3, n_resamples=300)
    b = rows_bootstrap_ci(rm.auroc, (y, s), seed=3, n_resamples=300)
    assert a == b and a.low < rm.auroc(y, s) < a.high and a.used == 300


# ---------- plugin level: records with confidence, acceptable and scores; QA arms -------------


def _records() -> list[dict]:
    rng = np.random.default_rng(7)
    domains = ["fin", "law", "med"]
    rows = []
    for i in range(60):
        category = ["in_domain", "perturbed", "boundary", "ambiguous", "ood"][i % 5]
        gold = None if category == "ood" else domains[i % 3]
        score = float(np.round(rng.random() * 0.6 + (0.4 if gold else 0.0), 2))
        predicted = None if score < 0.3 else (gold if rng.random() < 0.7 else domains[i % 2])
        if gold is None and i % 10 == 4:
            predicted = "fin"  # an OOD query routed to a domain
        rec = route(f"q{i}", category, gold, predicted, score)
        rec["confidence"] = float(np.round(rng.random(), 3))
        rec["scores"] = {d: score if d == (predicted or gold or "fin") else 0.0 for d in domains}
        if category == "ambiguous":
            rec["acceptable"] = domains
        rows.append(rec)
    return rows


def _qa_records() -> list[dict]:
    rng = np.random.default_rng(3)
    rows = []
    for i in range(40):
        domain = ["fin", "law"][i % 2]
        oracle_right = bool(rng.random() < 0.7)
        misrouted = bool(rng.random() < 0.3)
        routed_right = oracle_right if not misrouted else bool(rng.random() < 0.2)
        routed_to = domain if not misrouted else (None if i % 3 else "med")
        rows.append(qa("oracle", domain, f"i{i}", oracle_right, seed=0))
        rows.append(qa("routed", domain, f"i{i}", routed_right, seed=0, routed_domain=routed_to))
    return rows


@pytest.fixture(scope="module")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> tuple[AnalysisResult, list, list, Path]:
    tmp = tmp_path_factory.mktemp("router")
    records, qas = _records(), _qa_records()
    result = RouterPlugin().analyze(frames(tmp, records + qas), AnalyzeOptions(seed=5))
    assert result is not None
    return result, records, qas, tmp


def test_plugin_ood_and_f1_metrics(analysed: tuple) -> None:
    result, records, _, _ = analysed
    m = result.metrics
    y = np.array([r["gold"] is not None for r in records])
    s = np.array([r["score"] for r in records])
    assert m["router.ood.auroc"] == pytest.approx(roc_auc_score(y, s), abs=TOL)
    assert m["router.ood.aupr"] == pytest.approx(average_precision_score(y, s), abs=TOL)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    assert m["router.ood.fpr_at_95tpr"] == pytest.approx(fpr[np.argmax(tpr >= 0.95)], abs=TOL)
    for name in ("auroc", "aupr", "fpr_at_95tpr"):
        assert m[f"router.ood.{name}_ci_low"] <= m[f"router.ood.{name}"] + TOL
        assert m[f"router.ood.{name}"] <= m[f"router.ood.{name}_ci_high"] + TOL

    def effective(r: dict) -> str:
        p = r["predicted"]
        return r["gold"] if p in r.get("acceptable", []) else (p or "-")

    labels = ["fin", "law", "med"]
    known = [r for r in records if r["gold"]]
    f1_known = f1_score(
        [r["gold"] for r in known], [effective(r) for r in known],
        labels=labels, average="macro", zero_division=0,
    )  # fmt: skip
    f1_all = f1_score(
        [r["gold"] or "-" for r in records], [effective(r) for r in records],
        labels=labels, average="macro", zero_division=0,
    )  # fmt: skip
    assert m["router.overall.macro_f1"] == pytest.approx(f1_known, abs=TOL)
    assert m["router.overall.macro_f1_ood_fp"] == pytest.approx(f1_all, abs=TOL)
    assert m["router.overall.macro_f1_ood_fp"] < m["router.overall.macro_f1"]
    assert "router.overall.macro_f1_ci_low" in m


def test_plugin_calibration_selective_threshold(analysed: tuple) -> None:
    result, records, _, _ = analysed
    m = result.metrics
    known = [r for r in records if r["gold"]]
    right = np.array(
        [r["predicted"] == r["gold"] or r["predicted"] in r.get("acceptable", []) for r in known]
    )
    conf = np.array([r["confidence"] for r in known])
    assert m["router.calibration.ece"] == pytest.approx(_ece_reference(conf, right), abs=TOL)
    s = np.array([r["score"] for r in known])
    # Tied scores (rounded to 0.01) averaged over their orders: P(query among the top k).
    higher = np.array([(s > v).sum() for v in s])
    tied = np.array([(s == v).sum() for v in s])
    k = np.arange(1, s.size + 1)[:, None]
    risk = (np.clip((k - higher) / tied, 0, 1) * ~right).sum(axis=1) / k[:, 0]
    assert m["router.selective.aurc"] == pytest.approx(risk.mean(), abs=TOL)
    ood = np.array([r["score"] for r in records if r["gold"] is None])
    t = m["router.threshold.recommended"]
    assert np.mean(ood >= t) <= 0.05
    assert result.details["threshold"]["target_ood_fpr"] == 0.05


def test_target_ood_fpr_option(tmp_path: Path) -> None:
    options = AnalyzeOptions(extra={"router": {"target_ood_fpr": 0.5}})
    records = _records()
    result = RouterPlugin().analyze(frames(tmp_path, records), options)
    ood = np.array([r["score"] for r in records if r["gold"] is None])
    t = result.metrics["router.threshold.recommended"]
    assert np.mean(ood >= t) <= 0.5 and result.details["threshold"]["target_ood_fpr"] == 0.5
    assert "router.oracle_gap.retained" not in result.metrics
    assert "no qa records" in result.details["oracle_gap"]["note"]


def test_oracle_gap_adds_up(analysed: tuple) -> None:
    result, _, qas, _ = analysed
    m = {k.removeprefix("router.oracle_gap."): v for k, v in result.metrics.items()
         if k.startswith("router.oracle_gap.")}  # fmt: skip
    oracle = {r["item_id"]: r["correct"] for r in qas if r["arm"] == "oracle"}
    routed = {r["item_id"]: r for r in qas if r["arm"] == "routed"}
    items = sorted(oracle)
    o = np.array([oracle[i] for i in items])
    r = np.array([routed[i]["correct"] for i in items])
    mis = np.array([routed[i]["routed_domain"] != routed[i]["domain"] for i in items])
    assert m["n"] == len(items)
    assert m["retained"] == pytest.approx(r.mean() / o.mean(), abs=TOL)
    assert m["gap"] == pytest.approx(o.mean() - r.mean(), abs=TOL)
    assert m["gap_routing"] + m["gap_model"] == pytest.approx(m["gap"], abs=TOL)
    assert m["routing_share"] == pytest.approx(np.mean(mis * (o * 1.0 - r)) / m["gap"], abs=TOL)
    parts = ("misrouted_wrong", "misrouted_right", "routed_right_wrong", "routed_right_right")
    assert sum(m[p] for p in parts) == pytest.approx(1.0, abs=TOL)
    assert m["misrouted_wrong"] == pytest.approx(np.mean(mis & ~r), abs=TOL)
    assert m["misrouted_wrong"] + m["routed_right_wrong"] == pytest.approx(1 - r.mean(), abs=TOL)
    table = [[np.sum(r & o), np.sum(r & ~o)], [np.sum(~r & o), np.sum(~r & ~o)]]
    assert m["pvalue"] == pytest.approx(sm_mcnemar(table, exact=True).pvalue, abs=TOL)
    assert m["retained_ci_low"] <= m["retained"] <= m["retained_ci_high"]
    listed = result.details["oracle_gap"]["items"]
    assert len(listed) == int(np.sum(mis | (r != o)))


def test_section_shows_new_blocks(analysed: tuple) -> None:
    result, _, _, tmp = analysed
    section = section_of(RouterPlugin(), tmp, result)
    captions = " | ".join(getattr(b, "caption", "") for b in section.blocks)
    for word in ("Reliability", "Risk", "Threshold", "oracle"):
        assert word.lower() in captions.lower()
    assert sum(isinstance(b, Figure) for b in section.blocks) >= 3
