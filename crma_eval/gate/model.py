"""What a gate run found: one Outcome per rule and matched metric, gathered in a GateReport."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crma_eval.gate.spec import Rule


@dataclass(frozen=True)
class Outcome:
    """One rule checked against one metric."""

    rule: Rule
    metric: str
    value: float | None
    passed: bool
    detail: str
    what: str = ""  # the metric's role, method and n of units (crma_eval.api.catalogue)
    # compare rules: mode, mde (null: none detectable or no paired records) and, in the margin
    # modes, drop_low / drop_high (the 1 - 2 alpha interval of the worsening: baseline - current,
    # or current - baseline for a lower-is-better metric); worse_by, direction ("higher"/"lower")
    # and direction_assumed (True: unknown, read as higher-is-better)
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for `crma-eval gate --json`)."""
        return {
            "rule": self.rule.name,
            "line": self.rule.line,
            "metric": self.metric,
            "what": self.what,
            "value": self.value,
            "threshold": self.rule.threshold,
            "passed": self.passed,
            "detail": self.detail,
            **self.extra,
        }


@dataclass
class GateReport:
    """All rule outcomes of one gate run, and where junit.xml and summary.md were written."""

    run_dir: Path
    spec_path: Path
    baseline_dir: Path | None
    outcomes: list[Outcome]
    junit_path: Path | None = field(default=None)
    summary_path: Path | None = field(default=None)

    @property
    def passed(self) -> bool:
        """True when every outcome passed."""
        return all(o.passed for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        """The CLI exit code: 0 all gates passed, 1 a gate failed."""
        return 0 if self.passed else 1

    @property
    def failures(self) -> list[Outcome]:
        """The outcomes that failed, in spec order."""
        return [o for o in self.outcomes if not o.passed]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for `crma-eval gate --json`)."""
        return {
            "passed": self.passed,
            "exit_code": self.exit_code,
            "run_dir": str(self.run_dir),
            "baseline_dir": None if self.baseline_dir is None else str(self.baseline_dir),
            "spec": str(self.spec_path),
            "outcomes": [o.to_dict() for o in self.outcomes],
        }
