"""Report blocks of the scorer comparison (added to the QA section by plugins/qa/section.py)."""

from __future__ import annotations

from typing import Any

from crma_eval.api.blocks import Paragraph, Table
from crma_eval.api.catalogue import MetricInfo, interval_label
from crma_eval.fmt import DASH, interval, missing, pct


def _accuracy_table(rows: list[dict[str, Any]], infos: list[MetricInfo]) -> Table:
    body = [
        [
            r["arm"],
            r["scorer"],
            f"{r['k']}/{r['n']}",
            pct(r["accuracy"]) if r["n"] else DASH,
            interval(r["ci_low"], r["ci_high"]) if r["n"] else DASH,
            interval_label(info) if r["n"] else DASH,
            DASH if missing(r.get("mean_score")) else f"{r['mean_score']:.3f}",
            r["abstained"],
            r.get("flagged", DASH),  # results.json of earlier versions: not counted
        ]
        for r, info in zip(rows, infos, strict=True)
    ]
    columns = ["Arm", "Scorer", "Passed", "Accuracy", "CI", "interval (method, n of units)"]
    return Table(
        columns=[*columns, "Mean score", "Abstained", "Flagged"],
        rows=body,
        caption="Accuracy by scorer",
        notes=[
            "Accuracy counts answers a scorer passed among those it scored; abstentions (e.g. a "
            "judge reply that is not the required JSON) are left out and counted separately. "
            "Graded scorers (token_f1, rouge_l) pass at their threshold (default 0.5).",
            "Flagged: verdicts given on an answer a scorer marked as suspect (e.g. an answer "
            "holding judge-format markers, a possible prompt injection); they are counted in the "
            "accuracy, so read them (qa.jsonl `flags`).",
        ],
    )


def _reason_text(reasons: dict[str, int]) -> str:
    return "; ".join(f"{why} ({n})" for why, n in reasons.items()) or DASH


def _flags_table(details: dict[str, Any]) -> Table | None:
    """Per scorer: verdicts flagged and abstentions, with their reasons (None when neither)."""
    flagged, abstained = details.get("flagged") or {}, details.get("abstained") or {}
    names = [n for n in details["names"] if n in flagged or n in abstained]
    if not names:
        return None
    rows = [
        [
            name,
            sum((flagged.get(name) or {}).values()),
            _reason_text(flagged.get(name) or {}),
            sum((abstained.get(name) or {}).values()),
            _reason_text(abstained.get(name) or {}),
        ]
        for name in names
    ]
    return Table(
        columns=["Scorer", "Flagged", "why flagged (answers)", "Abstained", "why (answers)"],
        rows=rows,
        caption="Flagged and abstained verdicts per scorer (all arms)",
        id="judge-flags",
    )


def _agreement_table(details: dict[str, Any]) -> Table:
    names = details["names"]
    pairs = {(p["a"], p["b"]): p for p in details["agreement"]}
    pairs |= {(b, a): p for (a, b), p in pairs.items()}
    rows = []
    for a in names:
        cells: list[Any] = [a]
        for b in names:
            p = pairs.get((a, b))
            cells.append(DASH if p is None else f"{pct(p['rate'])} (n={p['n']})")
        rows.append(cells)
    return Table(
        columns=["Scorer", *names],
        rows=rows,
        caption="Scorer agreement (share of answers both scored with the same verdict)",
    )


def _disagreement_table(details: dict[str, Any]) -> Table:
    dis = details["disagreements"]
    rows = [
        [
            d["arm"],
            d["domain"],
            d["item_id"],
            d["reference"],
            d["prediction"],
            ", ".join(f"{k}={'pass' if v else 'fail'}" for k, v in d["verdicts"].items()),
        ]
        for d in dis["shown"]
    ]
    return Table(
        columns=["Arm", "Domain", "Item", "Reference", "Prediction", "Verdicts"],
        rows=rows,
        caption=f"Answers on which the scorers disagree ({len(rows)} of {dis['n']} shown)",
    )


def scorer_blocks(
    details: dict[str, Any] | None, infos: list[MetricInfo]
) -> list[Paragraph | Table]:
    """Accuracy per scorer, the agreement matrix and the disagreeing answers ([] without data);
    `infos`: the catalogue entry of each accuracy row's interval (same order as the rows)."""
    if not details:
        return []
    primary = ", ".join(details["primary"]) or "none recorded"
    blocks: list[Paragraph | Table] = [
        Paragraph(f"Scorers: {', '.join(details['names'])}; primary (decides correct): {primary}."),
        _accuracy_table(details["rows"], infos),
        _agreement_table(details),
    ]
    if details["disagreements"]["n"]:
        blocks.append(_disagreement_table(details))
    flags = _flags_table(details)
    if flags is not None:
        blocks.append(flags)
    return blocks
