"""Gate outputs for CI: JUnit XML (one testcase per rule × metric) and a Markdown job summary."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from crma_eval.fmt import gate_value
from crma_eval.gate.model import GateReport, Outcome
from crma_eval.naming import markdown_cell, visible

SUITE = "crma-eval gate"
SUMMARY_LIMIT = 1000 * 1024  # bytes of summary.md: under GitHub's 1 MiB step-summary limit
FULL_SUMMARY = "summary-full.md"
# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _x(text: str) -> str:
    """Text for JUnit XML: controls shown as <U+XXXX> (`visible`), the rest XML cannot carry
    replaced."""
    return _NOT_XML.sub("\ufffd", visible(text))


def _case_name(outcome: Outcome) -> str:
    return f"{outcome.rule.name} [{outcome.metric}]"


def junit_xml(report: GateReport) -> str:
    """The report as JUnit XML: one testsuite, one testcase per outcome, <failure> on failure."""
    n, failed = len(report.outcomes), len(report.failures)
    counts = {"tests": str(n), "failures": str(failed), "errors": "0", "skipped": "0"}
    root = ET.Element("testsuites", {"name": SUITE, **counts})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE, **counts, "time": "0"})
    props = ET.SubElement(suite, "properties")
    for key, value in (
        ("run_dir", report.run_dir),
        ("spec", report.spec_path),
        ("baseline_dir", report.baseline_dir),
    ):
        if value is not None:
            ET.SubElement(props, "property", {"name": key, "value": _x(str(value))})
    for outcome in report.outcomes:
        attrs = {"classname": SUITE, "name": _x(_case_name(outcome)), "time": "0"}
        case = ET.SubElement(suite, "testcase", attrs)
        text = (
            f"rule: {outcome.rule.name} (spec line {outcome.rule.line})\n"
            f"metric: {outcome.metric}\nwhat: {outcome.what}\nvalue: {gate_value(outcome.value)}\n"
            f"threshold: {outcome.rule.threshold}\ndetail: {outcome.detail}"
        )
        if outcome.passed:
            ET.SubElement(case, "system-out").text = _x(text)
        else:
            failure = ET.SubElement(
                case, "failure", {"message": _x(outcome.detail), "type": "gate"}
            )
            failure.text = _x(text)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _code(text: str) -> str:
    return f"<code>{markdown_cell(text)}</code>"


def verdict(report: GateReport) -> str:
    """The one-line verdict (first line of summary.md, also good for a CLI)."""
    n = len(report.outcomes)
    if report.passed:
        return f"✅ crma-eval gate passed: all {n} checks passed"
    return f"❌ crma-eval gate failed: {len(report.failures)} of {n} checks failed"


def _row(o: Outcome) -> str:
    mark = "✅" if o.passed else "❌"
    cells = [
        mark,
        markdown_cell(o.rule.name),
        _code(o.metric),
        markdown_cell(o.what) or "—",
        gate_value(o.value),
        markdown_cell(o.rule.threshold),
    ]
    return "| " + " | ".join([*cells, markdown_cell(o.detail)]) + " |"


def summary_markdown(
    report: GateReport, limit: int | None = None, full_name: str = FULL_SUMMARY
) -> str:
    """A GitHub job summary: verdict first, then one table row per rule × metric.

    With `limit` (bytes), failing rows come first and rows stop before the text would pass it,
    with a last line naming `full_name` (where the caller writes the uncut summary): GitHub
    refuses step summaries over 1 MiB.
    """
    lines = [f"## {verdict(report)}", ""]
    where = f"Run {_code(report.run_dir.name)} · spec {_code(report.spec_path.name)}"
    if report.baseline_dir is not None:
        where += f" · baseline {_code(report.baseline_dir.name)}"
    lines += [
        where,
        "",
        "| | Rule | Metric | What it is | Value | Threshold | Detail |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = [_row(o) for o in report.outcomes]
    if limit is None or len("\n".join(lines + rows).encode()) + 1 <= limit:
        return "\n".join(lines + rows) + "\n"
    order = sorted(range(len(rows)), key=lambda i: report.outcomes[i].passed)  # failures first
    size, kept = len("\n".join(lines).encode()) + 200 + len(full_name), 0
    for i in order:
        size += len(rows[i].encode()) + 1
        if size > limit:
            break
        lines.append(rows[i])
        kept += 1
    lines += ["", f"… {len(rows) - kept} more checks not shown (failures first): see {full_name}"]
    return "\n".join(lines) + "\n"
