"""The metric catalogue (results.json meta.metric_info) and what reads it: report labels, compare,
gate, claims. Right values come from statsmodels (CR1 = OLS cov_type='cluster')."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.proportion import proportion_confint

from crma_eval.analyze import analyze_frames, analyze_paths
from crma_eval.api.catalogue import (
    ROLES,
    MetricInfo,
    catalogue,
    describe,
    fallback_entry,
    interval_label,
)
from crma_eval.api.plugin import AnalysisResult, AnalyzeOptions, Plugin
from crma_eval.api.registry import plugins as installed
from crma_eval.claims import check_file
from crma_eval.gate import run_gate
from crma_eval.report.compare import compare_runs, markdown
from crma_eval.report.render import render_report
from tests.recordgen import frames, loss_matrix, qa, route, spectral, write

PAPER = Path(__file__).parents[2] / "examples" / "paper"
DOMAINS = ("med", "law", "fin")
Z = 1.959963984540054


def _repeated_qa(seeds: int = 3, items: int = 8, shift: int = 0) -> list[dict[str, Any]]:
    """qa records of items x seeds, two arms; an item's answers agree across seeds mostly."""
    rng = np.random.default_rng(7 + shift)
    out = []
    for domain in DOMAINS:
        base = rng.random(items) < 0.7
        for seed in range(seeds):
            for arm, flip in (("with_crma", 0.1), ("without_crma", 0.4)):
                right = base ^ (rng.random(items) < flip)
                for i in range(items):
                    verdicts = {"exact": bool(right[i]), "contains": bool(right[i] or i % 3 == 0)}
                    out.append(
                        qa(arm, domain, f"{domain}-{i}", bool(right[i]), seed=seed,
                           verdicts=verdicts, primary="exact")
                    )  # fmt: skip
    return out


def _bench() -> list[dict[str, Any]]:
    rng = np.random.default_rng(3)
    rows = []
    for arm, p in (("base", 0.4), ("after", 0.6)):
        for doc in range(30):
            rows.append({"kind": "bench", "task": "mc", "arm": arm, "doc_id": doc,
                         "metric": "acc", "value": float(rng.random() < p)})  # fmt: skip
            rows.append({"kind": "bench", "task": "tqa", "arm": arm, "doc_id": doc,
                         "metric": "mc2", "value": float(rng.random())})  # fmt: skip
    return rows


def _every_kind() -> list[dict[str, Any]]:
    """Records of every built-in kind, shaped like the demo's (seeds, routed arm, verdicts)."""
    records = _repeated_qa()
    records += [r | {"arm": "routed", "routed_domain": r["domain"] if i % 4 else "law"}
                for i, r in enumerate(records) if r["arm"] == "with_crma"]  # fmt: skip
    order = ["med", "law", "fin"]
    for seed in (0, 1, 2):
        for cond, forget in (("naive", 0.3), ("frozen", 0.0), ("modular", 0.01 * seed)):
            records += loss_matrix(cond, seed, order, [
                [1.0 + 0.01 * seed, None, None],
                [1.0 + forget, 1.1, None],
                [1.0 + 2 * forget, 1.1 + forget, 1.2],
            ])  # fmt: skip
    records += [
        route("i1", "in_domain", "med", "med", 0.95), route("i2", "in_domain", "law", "fin", 0.6),
        route("i3", "in_domain", "fin", "fin", 0.85), route("b1", "boundary", "med", "law", 0.55),
        route("a1", "ambiguous", "fin", None, 0.30), route("o1", "ood", None, None, 0.20),
        route("o2", "ood", None, "med", 0.70), route("p1", "perturbed", "law", "law", 0.8),
    ]  # fmt: skip
    records += [spectral(s, "med", "layers.0.mix", 1.0 + 1e-9 * s) for s in range(5)]
    return records + _bench()


def _undescribed(results: dict[str, Any]) -> list[str]:
    info = results["meta"]["metric_info"]
    return [m for m in results["metrics"] if m not in info or info[m].get("fallback")]


def _check_entries(results: dict[str, Any]) -> None:
    """Every entry is well formed: a known role, bounds/counts/p-values tied to a metric."""
    for name, data in results["meta"]["metric_info"].items():
        entry = MetricInfo.from_json(data)
        assert entry.role in ROLES and entry.estimand, name
        if entry.role == "interval_bound":
            assert entry.of in results["metrics"] and entry.method and entry.bound, name
            assert entry.confidence == 0.95 and entry.n is not None and entry.unit, name
        if entry.role in ("pvalue", "adjusted_pvalue", "statistic") and entry.of is not None:
            assert entry.method, name


def test_every_metric_of_every_builtin_plugin_is_described(tmp_path: Path) -> None:
    opts = AnalyzeOptions(extra={"router": {"routed_arm": "routed", "oracle_arm": "with_crma"}})
    results = analyze_frames(frames(tmp_path, _every_kind()), opts)
    lacking = set(installed()) - {m.split(".")[0] for m in results["metrics"]}
    assert not lacking, f"add records of {lacking} to _every_kind() so its entries are checked"
    assert "router.oracle_gap.gap" in results["metrics"]
    assert _undescribed(results) == []
    _check_entries(results)
    info = results["meta"]["metric_info"]
    assert info["qa.with_crma.ci_low"]["method"] == "clustered-cr1"
    assert info["qa.with_crma.ci_low"]["of"] == "qa.with_crma.accuracy"
    assert info["qa.with_crma.n"]["role"] == info["qa.with_crma.k"]["role"] == "count"
    assert (info["qa.with_crma.n"]["unit"], info["qa.with_crma.n"]["n"]) == ("item", 24)
    assert info["ablation.with_crma_vs_without_crma.pvalue"]["role"] == "pvalue"
    assert info["ablation.with_crma_vs_without_crma.med.pvalue_holm"]["role"] == "adjusted_pvalue"
    assert info["drift.naive_vs_frozen.welch.df"]["role"] == "df"
    drift = info["drift.naive.drift.mean"]
    assert (drift["role"], drift["unit"], drift["n"], drift["scale"]) == (
        "estimate",
        "seed",
        3,
        "percent",
    )
    assert info["bench.tqa.base.ci_low"]["method"] != info["bench.mc.base.ci_low"]["method"]


def test_paper_example_metrics_are_all_described(tmp_path: Path) -> None:
    path = analyze_paths([PAPER / "loss.jsonl", PAPER / "qa.jsonl"], tmp_path / "paper")
    results = json.loads(path.read_text("utf-8"))
    assert results["metrics"] and _undescribed(results) == []
    _check_entries(results)


class ThirdParty(Plugin):
    """A plugin that declares no catalogue entries (and one malformed entry)."""

    name: ClassVar[str] = "thirdparty"
    title: ClassVar[str] = "Third party"
    kinds: ClassVar[tuple[str, ...]] = ("qa",)

    def analyze(self, frames: dict[str, pd.DataFrame], options: AnalyzeOptions) -> AnalysisResult:
        metrics = {
            "thirdparty.x.accuracy": 0.5,
            "thirdparty.x.ci_high": 0.7,
            "thirdparty.x.odd": 1.0,
        }
        return AnalysisResult(metrics, metric_info={"thirdparty.x.odd": {"role": "nonsense"}})  # type: ignore[dict-item]


def test_third_party_metrics_get_marked_fallback_entries(tmp_path: Path) -> None:
    results = analyze_frames(frames(tmp_path, _repeated_qa(1, 2)), AnalyzeOptions(),
                             plugins={"thirdparty": ThirdParty()})  # fmt: skip
    info = {k: MetricInfo.from_json(v) for k, v in results["meta"]["metric_info"].items()}
    assert all(e.fallback for e in info.values()) and len(info) == 3
    assert info["thirdparty.x.accuracy"].role == "estimate"
    assert (info["thirdparty.x.ci_high"].role, info["thirdparty.x.ci_high"].bound) == (
        "interval_bound",
        "high",
    )
    assert info["thirdparty.x.odd"].role == "unknown" and info["thirdparty.x.odd"].method is None


def _cr1(y: np.ndarray, groups: np.ndarray) -> tuple[float, float]:
    """The item-clustered interval computed independently: statsmodels' CR1 SE, the hull of
    Wilson on the effective n and the Wald interval clipped to [0, 1]."""
    p = y.mean()
    fit = sm.OLS(y, np.ones_like(y)).fit(cov_type="cluster", cov_kwds={"groups": groups})
    se = float(fit.bse[0])
    n_eff = y.size / max(1.0, se**2 * y.size / (p * (1 - p)))
    low, high = proportion_confint(p * n_eff, n_eff, alpha=0.05, method="wilson")
    return min(low, max(0.0, p - Z * se)), max(high, min(1.0, p + Z * se))


def _text(html: str) -> str:
    html = re.sub(r"<svg.*?</svg>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture(scope="module")
def repeated_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("repeated")
    analyze_paths([write(out / "qa_in.jsonl", _repeated_qa())], out / "run")
    render_report(out / "run")
    return out / "run"


def test_qa_labels_name_the_clustered_interval_and_its_items(repeated_run: Path) -> None:
    text = _text((repeated_run / "report.html").read_text("utf-8"))
    records = pd.read_json(repeated_run / "records" / "qa.jsonl", lines=True)
    mine = records[records["arm"] == "with_crma"]
    y = mine["correct"].astype(float).to_numpy()
    groups = mine.groupby(["domain", "item_id"]).ngroup().to_numpy()
    low, high = _cr1(y, groups)
    k, n, items = int(y.sum()), y.size, len(np.unique(groups))
    printed = (f"{k}/{n} = {100 * k / n:.1f}% [{100 * low:.1f}%, {100 * high:.1f}%] "
               f"(item-clustered CR1 95% CI, n = {items} items)")  # fmt: skip
    assert printed in text  # overview / headline
    wilson = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert f"[{100 * wilson[0]:.1f}%, {100 * wilson[1]:.1f}%]" not in text  # never a 2nd interval
    qa_part = text[text.index("Domain QA accuracy") :]
    assert "Intervals: item-clustered CR1 95% CI (n = 8–24 items)" in qa_part
    assert "QA accuracy by arm and domain; intervals: item-clustered CR1 95% CI" in qa_part
    assert "whiskers = item-clustered CR1 95% CI (n = 8 items)" in qa_part
    assert "Wilson score 95% CI (n" not in qa_part.split("per seed")[0]
    # The scorer table prints the same interval for the same answers (scorer exact = primary).
    scorer = text[text.index("Accuracy by scorer") :]
    assert (
        f"[{100 * low:.1f}%, {100 * high:.1f}%] item-clustered CR1 95% CI, n = {items} items"
        in scorer
    )
    # The CSV export of the table carries the method in its header and rows.
    header = (repeated_run / "tables" / "qa-qa-accuracy.csv").read_text("utf-8").splitlines()[0]
    assert header.endswith('"item-clustered CR1 95% CI","items","answers","interval method"')
    latex = (repeated_run / "tables" / "qa-qa-accuracy.tex").read_text("utf-8")
    assert "item-clustered CR1 95\\% CI" in latex


def test_demo_summary_labels_the_interval_from_the_catalogue(repeated_run: Path) -> None:
    from crma_eval.demo.run import summary_lines

    results = json.loads((repeated_run / "results.json").read_text("utf-8"))
    line = next(x for x in summary_lines(results) if x.startswith("QA with_crma"))
    assert line.endswith("(item-clustered CR1 95% CI, n = 24 items)") and "Wilson" not in line


def test_a_claim_copied_from_the_report_passes_claims(repeated_run: Path, tmp_path: Path) -> None:
    info = catalogue(json.loads((repeated_run / "results.json").read_text("utf-8")))
    metrics = json.loads((repeated_run / "results.json").read_text("utf-8"))["metrics"]
    low, high = (100 * metrics[f"qa.with_crma.ci_{s}"] for s in ("low", "high"))
    acc = 100 * metrics["qa.with_crma.accuracy"]
    assert info["qa.with_crma.ci_low"].method == "clustered-cr1"
    claims = tmp_path / "claims.yaml"
    claims.write_text(
        "claims:\n"
        f"  - {{id: copied, metric: qa.with_crma.accuracy, scale: 100, printed: {acc:.1f},"
        f" interval: [{low:.1f}, {high:.1f}], method: clustered-cr1}}\n"
        f"  - {{id: as-wilson, metric: qa.with_crma.accuracy, scale: 100, printed: {acc:.1f},"
        f" interval: [{low:.1f}, {high:.1f}], method: wilson}}\n",
        "utf-8",
    )
    copied, as_wilson = check_file(claims, repeated_run)
    assert copied.verdict == "reproduced", copied.detail
    assert as_wilson.verdict == "method_mismatch" and "item-clustered CR1" in as_wilson.detail


def _run(tmp_path: Path, name: str, shift: int) -> Path:
    records = _repeated_qa(seeds=1, items=12, shift=shift) + _bench()
    analyze_paths([write(tmp_path / f"{name}.jsonl", records)], tmp_path / name)
    return tmp_path / name


def test_compare_tests_estimates_only(tmp_path: Path) -> None:
    a, b = _run(tmp_path, "a", 0), _run(tmp_path, "b", 1)
    comp = compare_runs(a, b)
    info = catalogue(json.loads((b / "results.json").read_text("utf-8")))
    assert comp.paired and all(info[p.metric].role == "estimate" for p in comp.paired)
    tested = {p.metric for p in comp.paired}
    assert "qa.with_crma.accuracy" in tested and "bench.mc.after.score" in tested
    assert not any(re.search(r"\.(ci_low|ci_high|n|k|pvalue\w*|b|c)$", m) for m in tested)
    largest = markdown(comp).split("Largest deltas")[1]
    names = re.findall(r"`([^`]+)`", largest)
    assert names and all(info[m].role == "estimate" for m in names)


def test_gate_pairs_estimates_only_and_says_what_it_gated(tmp_path: Path) -> None:
    a, b = _run(tmp_path, "a", 0), _run(tmp_path, "b", 1)
    spec = tmp_path / "gates.yaml"
    spec.write_text("gates:\n  - compare: qa.with_crma.ci_high\n    max_drop: 1\n"
                    "  - compare: qa.with_crma.accuracy\n    max_drop: 1\n", "utf-8")  # fmt: skip
    bound, estimate = run_gate(b, spec, a).outcomes
    assert "no paired test" in bound.detail and "p = " not in bound.detail
    assert bound.what.startswith("interval bound (wilson; n = 36 items)")
    assert "p = " in estimate.detail and estimate.what.startswith("estimate (k/n; n = 36 items)")
    assert "| What it is |" in (b / "summary.md").read_text("utf-8")


def test_describe_ties_bounds_counts_and_tests_to_their_estimate() -> None:
    names = ["p.x.diff", "p.x.diff_ci_low", "p.x.diff_ci_high", "p.x.n", "p.x.b", "p.x.pvalue",
             "p.x.pvalue_holm", "p.x.statistic", "p.x.auroc_ci_low", "p.x.y.diff"]  # fmt: skip
    got = describe(names, "p.x", "diff", "a difference", unit="item", n=7, method="mean",
                   interval="newcombe", test="mcnemar-exact", confidence=0.9)  # fmt: skip
    assert "p.x.y.diff" not in got  # another group
    assert got["p.x.diff"] == MetricInfo("estimate", "a difference", "item", 7, "mean", "fraction")
    low = got["p.x.diff_ci_low"]
    assert (low.role, low.bound, low.of, low.method, low.confidence) == (
        "interval_bound", "low", "p.x.diff", "newcombe", 0.9)  # fmt: skip
    assert got["p.x.auroc_ci_low"].of == "p.x.auroc"  # a bound names its own estimate
    assert [got[f"p.x.{s}"].role for s in ("n", "b", "pvalue", "pvalue_holm", "statistic")] == [
        "count", "count", "pvalue", "adjusted_pvalue", "statistic"]  # fmt: skip
    assert got["p.x.pvalue"].method == "mcnemar-exact" and got["p.x.pvalue"].of == "p.x.diff"
    assert interval_label(low) == "newcombe 90% CI, n = 7 items"


def test_fallback_entries_never_claim_a_method_or_n() -> None:
    for name, role in (("t.a.accuracy", "estimate"), ("t.a.ci_low", "interval_bound"),
                       ("t.a.n", "count"), ("t.a.pvalue_bh", "adjusted_pvalue"),
                       ("t.a.weird", "unknown")):  # fmt: skip
        entry = fallback_entry(name)
        assert (entry.role, entry.fallback, entry.method, entry.n) == (role, True, None, None)
    results = {"metrics": {"t.a.accuracy": 1.0}, "meta": {"metric_info": {"t.a.accuracy": 3}}}
    assert catalogue(results)["t.a.accuracy"].fallback  # an unreadable entry: fallback
    with pytest.raises(ValueError, match="unknown metric role"):
        MetricInfo("guess", "x")
