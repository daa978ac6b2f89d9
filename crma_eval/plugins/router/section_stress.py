"""Report blocks of the router stress metrics: OOD detection, calibration, selective routing,
threshold sweep, oracle gap and (when given) the domain-overlap table."""

from __future__ import annotations

from typing import Any

from crma_eval import DASH, missing, new_figure, num, pct, pvalue, svg_of
from crma_eval.api import Figure, KeyValues, Paragraph, Table

DEFINITIONS = [
    (
        "AUROC / AUPR / FPR@95%TPR",
        "In-distribution (a gold domain) is the positive class and the router score the decision "
        "value; AUPR is average precision; FPR@95%TPR is the OOD false-positive rate at the first "
        "ROC threshold whose TPR reaches 0.95.",
    ),
    (
        "Macro F1 (OOD as false positives)",
        "Macro F1 over the gold domains counting every query: an OOD query routed to a domain "
        "is a false positive of that domain.",
    ),
    (
        "ECE",
        "Expected calibration error over queries with a gold domain: 15 equal-width confidence "
        "bins, |accuracy - mean confidence| weighted by bin size.",
    ),
    (
        "AURC",
        "Queries with a gold domain sorted by score (highest first): the misroute rate among the "
        "k accepted, averaged over k = 1..N (lower is better).",
    ),
    (
        "Recommended threshold",
        "The lowest score cut-off whose OOD false-positive rate is at most the target; queries "
        "scoring below it are routed to no adapter.",
    ),
    (
        "Oracle gap",
        "QA accuracy of the oracle arm minus the routed arm on the same items, split into the "
        "part on misrouted items (routing) and on correctly routed items (model); retained = "
        "routed accuracy / oracle accuracy.",
    ),
]


def _ci(stats: dict[str, Any], name: str, digits: int = 3) -> str:
    low, high = stats.get(f"{name}_ci_low"), stats.get(f"{name}_ci_high")
    value = num(stats.get(name), digits)
    if missing(low) or missing(high):
        return value
    return f"{value} [{num(low, digits)}, {num(high, digits)}]"


def headline(details: dict[str, Any], methods: dict[str, str]) -> KeyValues:
    """OOD detection, both macro F1s, ECE, AURC and the recommended threshold."""
    ood, f1 = details.get("ood") or {}, details.get("f1") or {}
    calibration, selective = details.get("calibration"), details.get("selective")
    threshold = details["threshold"]
    return KeyValues(
        items=[
            ("OOD AUROC", _ci(ood, "auroc")),
            ("OOD AUPR", _ci(ood, "aupr")),
            ("FPR at 95% TPR", _ci(ood, "fpr_at_95tpr")),
            ("macro F1", _ci(f1, "macro_f1")),
            ("macro F1 (OOD as false positives)", _ci(f1, "macro_f1_ood_fp")),
            ("ECE", num(calibration["ece"], 3) if calibration else "— (no confidence)"),
            ("AURC", num(selective["aurc"], 3) if selective else DASH),
            (
                f"recommended threshold (OOD FPR <= {pct(threshold['target_ood_fpr'])})",
                num(threshold["recommended"], 4),
            ),
        ],
        caption=f"Router stress metrics (intervals: {methods.get('bootstrap', 'bootstrap')})",
    )


def reliability_figure(calibration: dict[str, Any]) -> Figure:
    """Accuracy vs mean confidence per bin, with the diagonal of perfect calibration."""
    fig, ax = new_figure(width=4.0, height=3.2)
    bins = calibration["bins"]
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.bar(
        [(b["low"] + b["high"]) / 2 for b in bins],
        [b["accuracy"] for b in bins],
        width=[b["high"] - b["low"] for b in bins],
        edgecolor="black",
        alpha=0.6,
    )
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o", markersize=3)
    ax.set_xlabel("confidence")
    ax.set_ylabel("routing accuracy")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.05)
    return Figure(
        svg=svg_of(fig), caption=f"Reliability diagram (ECE {num(calibration['ece'], 3)})"
    )


def risk_figure(selective: dict[str, Any]) -> Figure:
    """Misroute rate among the accepted vs coverage (queries with a gold domain)."""
    fig, ax = new_figure(width=4.5, height=3.0)
    ax.plot([100 * c for c in selective["coverage"]], [100 * r for r in selective["risk"]])
    ax.set_xlabel("coverage (% of in-distribution queries accepted)")
    ax.set_ylabel("misroute rate (%)")
    ax.set_xlim(0, 100)
    return Figure(
        svg=svg_of(fig), caption=f"Risk-coverage curve (AURC {num(selective['aurc'], 3)})"
    )


def sweep_figure(threshold: dict[str, Any]) -> Figure:
    """Coverage, in-domain accuracy and OOD FPR as the cut-off moves; recommended one marked."""
    sweep = threshold["sweep"]
    fig, ax = new_figure(width=5.0, height=3.0)
    for key, label in (
        ("coverage", "in-distribution coverage"),
        ("accuracy", "in-domain routing accuracy"),
        ("ood_fpr", "OOD false-positive rate"),
    ):
        values = [float("nan") if missing(v) else 100 * v for v in sweep[key]]
        ax.plot(sweep["threshold"], values, label=label)
    if not missing(threshold["recommended"]):
        ax.axvline(threshold["recommended"], color="grey", linestyle="--", linewidth=1)
    ax.set_xlabel("threshold (router score cut-off)")
    ax.set_ylabel("%")
    ax.legend(fontsize=7)
    return Figure(svg=svg_of(fig), caption="Threshold sweep (dashed: recommended threshold)")


def oracle_gap_blocks(gap: dict[str, Any]) -> list[Any]:
    """Attribution numbers and the misrouted/discordant items; a paragraph saying why if absent."""
    if "stats" not in gap:
        return [Paragraph(f"Oracle gap not computed: {gap.get('note', 'no data')}.")]
    s = gap["stats"]
    accuracies = f"{pct(s['oracle_accuracy'])} / {pct(s['routed_accuracy'])}"
    split = f"{num(s['gap_routing'], 3)} / {num(s['gap_model'], 3)}"
    if "items_b" in s:  # items paired several times: the item-level sign-flip test
        test_label = "items with routed / oracle ahead (sign-flip)"
        test = f"{int(s['items_b'])} / {int(s['items_c'])}, p = {pvalue(s['pvalue'])}"
        paired = f"{int(s['n'])} items ({int(s['n_observations'])} paired answers)"
    else:
        test_label = "McNemar b / c"
        test = f"{int(s['mcnemar_b'])} / {int(s['mcnemar_c'])}, p = {pvalue(s['pvalue'])}"
        paired = str(int(s["n"]))
    numbers = KeyValues(
        items=[
            ("paired items", paired),
            ("oracle / routed accuracy", accuracies),
            ("retained", _ci(s, "retained")),
            ("gap (oracle - routed)", _ci(s, "gap")),
            ("gap from routing / from the model", split),
            ("routing share of the gap", _ci(s, "routing_share")),
            ("misrouted and wrong", pct(s["misrouted_wrong"])),
            ("misrouted but right", pct(s["misrouted_right"])),
            ("routed right but wrong", pct(s["routed_right_wrong"])),
            (test_label, test),
        ],
        caption=f"Routing-conditional forgetting: {gap['routed_arm']} vs {gap['oracle_arm']} "
        "(oracle) arm on the same items",
    )
    rows = [
        [i["domain"], i["item_id"], i["routed_domain"] or "(none)", i["routed_correct"],
         i["oracle_correct"]]
        for i in gap["items"]
    ]  # fmt: skip
    items = Table(
        columns=["domain", "item", "routed to", "routed arm right", "oracle arm right"],
        rows=rows,
        caption="Misrouted or discordant items",
    )
    return [numbers, items]


def stress_blocks(details: dict[str, Any], methods: dict[str, str]) -> list[Any]:
    """Every block of the stress metrics present in `details` (older results lack them)."""
    if "threshold" not in details:
        return []
    blocks: list[Any] = [headline(details, methods)]
    if details.get("calibration"):
        blocks.append(reliability_figure(details["calibration"]))
    if details.get("selective"):
        blocks.append(risk_figure(details["selective"]))
    blocks.append(sweep_figure(details["threshold"]))
    blocks += oracle_gap_blocks(details["oracle_gap"])
    return blocks
