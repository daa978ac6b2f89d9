"""Claims check: hold every printed number against what the data and the named method give.

`check_file(CLAIMS.yaml, RUN_DIR)` loads the claims (crma_eval.claims.spec), recomputes each with
crma_eval.stats (crma_eval.claims.check) and returns the outcomes; crma_eval.claims.output
prints and writes them. Kept light: the statistics are imported only when claims are checked.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crma_eval.results import CLAIMS_JSON

if TYPE_CHECKING:
    from crma_eval.api.blocks import Section
    from crma_eval.claims.check import Outcome


def check_file(claims_path: str | Path, run_dir: str | Path | None = None) -> list[Outcome]:
    """Check every claim of CLAIMS.yaml, against RUN_DIR/results.json when given.

    Raises InputError (exit 2) for a bad claims file (file:line) or an unreadable run directory.
    """
    from crma_eval.api.catalogue import catalogue
    from crma_eval.claims.check import check_claim
    from crma_eval.claims.spec import load_claims
    from crma_eval.results import load_results

    claims = load_claims(claims_path)
    results = None if run_dir is None else load_results(run_dir)
    metrics = None if results is None else results["metrics"]
    info = None if results is None else catalogue(results)
    return [check_claim(claim, metrics, info) for claim in claims]


def claims_section(run_dir: str | Path) -> Section | None:
    """The report's "Claims" section from RUN_DIR/claims.json, or None (see claims.output).

    Without that file the claims code (and the statistics it imports) is never loaded."""
    if not (Path(run_dir) / CLAIMS_JSON).is_file():
        return None
    from crma_eval.claims.output import claims_section as section

    return section(run_dir)


__all__ = ["CLAIMS_JSON", "check_file", "claims_section"]
