"""Display names and order of labels (conditions, arms, router categories) in reports.

Display options come from results.json `meta.report` (or `meta.options.report`), written from a
run config's `options.report`: {proposed, baseline, proposed_arm, baseline_arm, order,
display_names}. Defaults follow the CRMA paper: MODULAR is proposed, FROZEN its baseline; the arm
with CRMA is proposed, the arm without it the baseline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from crma_eval.naming import visible

DEFAULT_NAMES = {
    "naive": "NAIVE",
    "frozen": "FROZEN",
    "modular": "MODULAR",
    "with_crma": "with CRMA",
    "without_crma": "without CRMA",
    "in_domain": "in-domain",
    "boundary": "boundary",
    "ambiguous": "ambiguous",
    "ood": "out-of-distribution",
    "perturbed": "perturbed",
}
DEFAULTS: dict[str, Any] = {
    "proposed": "modular",
    "baseline": "frozen",
    "proposed_arm": "with_crma",
    "baseline_arm": "without_crma",
    "order": ["naive", "frozen", "modular", "with_crma", "without_crma"],
}


def display_options(meta: Mapping[str, Any]) -> dict[str, Any]:
    """The merged display options: defaults, then the run's `meta.report` (or options.report)."""
    given = meta.get("report") or (meta.get("options") or {}).get("report") or {}
    names = {**DEFAULT_NAMES, **dict(given.get("display_names") or {})}
    return {**DEFAULTS, **{k: v for k, v in given.items() if k != "display_names"}, "names": names}


def display(options: Mapping[str, Any], label: Any) -> str:
    """A label's display name (e.g. 'modular' -> 'MODULAR'); unknown labels unchanged."""
    return visible(options.get("names", DEFAULT_NAMES).get(label, label))


def ordered(options: Mapping[str, Any], labels: list[Any]) -> list[Any]:
    """Labels in the configured order (unlisted ones after, in their given order)."""
    rank = {name: i for i, name in enumerate(options.get("order", []))}
    return sorted(labels, key=lambda x: (rank.get(x, len(rank)), labels.index(x)))
