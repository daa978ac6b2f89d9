"""The CI regression gate: `crma-eval gate RUN_DIR --spec GATES.yaml [--baseline RUN_DIR]`.

`run_gate` checks results.json against the spec's rules and writes RUN_DIR/junit.xml and
RUN_DIR/summary.md; the returned GateReport carries the outcomes and the exit code (0 or 1).
"""

from crma_eval.gate.core import run_gate
from crma_eval.gate.model import GateReport, Outcome
from crma_eval.gate.output import verdict
from crma_eval.gate.spec import Rule, load_spec

__all__ = ["GateReport", "Outcome", "Rule", "load_spec", "run_gate", "verdict"]
