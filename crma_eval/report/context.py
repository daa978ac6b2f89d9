"""What the report's header and CI banner say about a run, and the display options of sections.

Display options come from results.json `meta.report` (or `meta.options.report`), written from a
run config's `options.report`: {proposed, baseline, proposed_arm, baseline_arm, order,
display_names}. Defaults follow the CRMA paper: MODULAR is proposed, FROZEN its baseline; the arm
with CRMA is proposed, the arm without it the baseline.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from crma_eval.derived import is_current
from crma_eval.labels import display, ordered

_ABSOLUTE = re.compile(r"^(/|[A-Za-z]:[\\/]|~[\\/])")


# An absolute POSIX path of two or more components inside free text (an error message, JSON),
# starting a token (after a space, quote, bracket, '=' or ','): group 1 is its last component.
_IN_TEXT = re.compile(r"(?<![^\s\"'(\[=,])/(?:[^\s/\"'<>|]+/)+([^\s/\"'<>|,;:)\]]+)")


def scrub_path(value: Any) -> Any:
    """An absolute machine path reduced to its last component; in other text, every absolute
    path inside it reduced the same way (e.g. an error message naming a data file). Others
    unchanged."""
    if not isinstance(value, str):
        return value
    if _ABSOLUTE.match(value) and not any(c.isspace() for c in value):
        return Path(value.replace("\\", "/")).name or value
    return _IN_TEXT.sub(r"\1", value)


def _short(digest: Any) -> str:
    text = str(digest or "")
    return text.split(":", 1)[-1][:12]


# Checkpoints the report's header shows; the rest collapse into a <details> with their count.
SHOWN_CHECKPOINTS = 6


def checkpoints(run_dir: Path) -> list[tuple[str, str]]:
    """(checkpoint id, short content hash) from RUN_DIR/run.json, if the run collected."""
    path = run_dir / "run.json"
    try:
        found = json.loads(path.read_text(encoding="utf-8")).get("checkpoints") or {}
    except (OSError, ValueError, AttributeError):
        return []
    return (
        [(str(scrub_path(k)), _short(v)) for k, v in found.items()]
        if isinstance(found, dict)
        else []
    )


def run_context(results: Mapping[str, Any], run_dir: Path, opts: Mapping[str, Any]) -> list[Any]:
    """(label, value) pairs for the header: config name, model, domain order, conditions, arms,
    seeds and item counts per record kind."""
    meta, plugins = results["meta"], results["plugins"]
    items: list[tuple[str, str]] = []
    if meta.get("name"):
        items.append(("config", str(meta["name"])))
    if meta.get("model"):
        items.append(("model", str(scrub_path(meta["model"]))))
    drift = (plugins.get("drift") or {}).get("details") or {}
    conds = drift.get("conditions") or []
    if conds:
        domains = (conds[0].get("matrix") or {}).get("domains") or []
        if domains:
            items.append(("domain order", " → ".join(map(str, domains))))
        names = ordered(opts, [c["condition"] for c in conds])
        items.append(("conditions", ", ".join(display(opts, n) for n in names)))
    qa_rows = ((plugins.get("qa") or {}).get("details") or {}).get("rows") or []
    arms = list(dict.fromkeys(r["arm"] for r in qa_rows))
    if arms:
        items.append(("arms", ", ".join(display(opts, a) for a in ordered(opts, arms))))
    if meta.get("seeds"):
        items.append(("seeds", ", ".join(map(str, meta["seeds"]))))
    counts = meta.get("record_counts") or {}
    if counts:
        items.append(("records", ", ".join(f"{k}: {v:,}" for k, v in counts.items())))
    return items  # the checkpoints are listed apart (`checkpoints`), collapsed when many


def gate_status(run_dir: Path) -> dict[str, Any] | None:
    """The last gate's outcome: RUN_DIR/gate.json, else RUN_DIR/junit.xml; None if gate never ran.

    Returns {"passed": bool, "outcomes": [{"rule", "metric", "passed", "detail"}, ...]}; a
    gate.json whose results_sha256 is not the current results.json's gives {"stale": note}.
    """
    gate = run_dir / "gate.json"
    if gate.is_file():
        try:
            data = json.loads(gate.read_text(encoding="utf-8"))
            status = {"passed": bool(data["passed"]), "outcomes": list(data["outcomes"])}
            current = is_current(data, run_dir)
        except (ValueError, KeyError, TypeError, AttributeError):
            return {"passed": False, "outcomes": [], "error": "gate.json is unreadable"}
        if not current:
            return {
                "passed": False,
                "outcomes": [],
                "stale": "No gate shown: gate.json was written for an earlier results.json (its "
                "results_sha256 differs); rerun `crma-eval gate`.",
            }
        return status
    junit = run_dir / "junit.xml"
    if not junit.is_file():
        return None
    try:
        root = ET.parse(junit).getroot()
    except ET.ParseError:
        return {"passed": False, "outcomes": [], "error": "junit.xml is unreadable"}
    outcomes = []
    for case in root.iter("testcase"):
        failure = case.find("failure")
        detail = (failure.get("message") if failure is not None else None) or ""
        outcomes.append(
            {
                "rule": case.get("name", ""),
                "metric": "",
                "passed": failure is None,
                "detail": detail,
            }
        )
    return {"passed": all(o["passed"] for o in outcomes), "outcomes": outcomes}
