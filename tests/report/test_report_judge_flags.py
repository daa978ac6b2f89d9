"""Flagged and abstained judge verdicts (issue 23) are counted in the report's QA section: per
arm and scorer in "Accuracy by scorer", per scorer with their reasons in their own table."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from recordgen import qa, write

from crma_eval.analyze import analyze_paths
from crma_eval.report.render import render_report
from crma_eval.scorers.judging import FLAG

ARMS = ("with_crma", "without_crma")


def _record(arm: str, i: int) -> dict[str, Any]:
    """A qa record scored by exact_match and judge; the judge abstains on every 5th answer and
    flags every 3rd (of those it answered; shifted per arm), as scorers/apply.py stores them."""
    j = i + ARMS.index(arm)
    judge_abstains, flagged = j % 5 == 0, j % 3 == 0 and j % 5 != 0
    judged = None if judge_abstains else bool(i % 2)
    rec = qa(arm, "law", f"q{i}", bool(i % 2), primary="exact_match")
    rec["scores"] = {"exact_match": float(i % 2), "judge": None if judged is None else 1.0}
    rec["verdicts"] = {"exact_match": bool(i % 2), "judge": judged}
    rec["abstained"] = {"judge": "reply is not JSON"} if judge_abstains else {}
    rec["flags"] = {"judge": FLAG} if flagged else {}
    return rec


def _cells(html: str, anchor: str) -> list[list[str]]:
    block = html[html.index(f'id="{anchor}"') :]
    body = block[block.index("<tbody>") : block.index("</tbody>")]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
    return [[re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in rows]  # fmt: skip


def test_flagged_and_abstained_verdicts_are_counted_in_the_qa_section(tmp_path: Path) -> None:
    records = [_record(arm, i) for arm in ARMS for i in range(30)]
    run = tmp_path / "run"
    analyze_paths([write(tmp_path / "qa.jsonl", records)], run)
    html = render_report(run).read_text(encoding="utf-8")
    flagged = Counter(r["arm"] for r in records if r["flags"])
    abstained = Counter(r["arm"] for r in records if r["abstained"])
    by_scorer = {(row[0], row[1]): row for row in _cells(html, "qa-accuracy_by_scorer")}
    for arm in ARMS:
        assert by_scorer[(arm, "judge")][-2:] == [str(abstained[arm]), str(flagged[arm])]
        assert by_scorer[(arm, "exact_match")][-2:] == ["0", "0"]
    (row,) = (r for r in _cells(html, "qa-judge-flags") if r[0] == "judge")
    assert row[1] == str(sum(flagged.values())) and row[3] == str(sum(abstained.values()))
    assert f"({sum(flagged.values())})" in row[2] and "reply is not JSON" in row[4]
