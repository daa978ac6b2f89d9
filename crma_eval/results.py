"""results.json: the analysis output that the report, the gate and comparisons read."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crma_eval.errors import InputError
from crma_eval.safeload import read_json

RESULTS_SCHEMA = "crma-eval/results/1"
CLAIMS_JSON = "claims.json"  # RUN_DIR/claims.json, written by `crma-eval claims ... RUN_DIR`
# meta entries the report reads, with the JSON type analyze writes them as
META_TYPES: dict[str, type] = {
    "options": dict,
    "report": dict,
    "versions": dict,
    "methods": dict,
    "inputs": list,
    "failures": list,
    "record_counts": dict,
    "scoring": dict,
}


def load_results(run_dir: str | Path) -> dict[str, Any]:
    """Read and check RUN_DIR/results.json; bad input raises InputError naming the file."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError("run directory not found", path=run_dir)
    path = run_dir / "results.json"
    if not path.exists():
        raise InputError("file not found (run `crma-eval analyze` first)", path=path)
    # NaN/Infinity are kept (a tampered file's non-finite metric then fails its gate by name)
    results = read_json(path, allow_nonfinite=True)
    if not isinstance(results, dict):
        raise InputError("expected a JSON object at the top level", path=path)
    if results.get("schema") != RESULTS_SCHEMA:
        problem = f"unsupported schema {results.get('schema')!r} (expected {RESULTS_SCHEMA!r})"
        raise InputError(problem, path=path, field="schema")
    for key in ("metrics", "plugins", "meta"):
        if not isinstance(results.setdefault(key, {}), dict):
            raise InputError("expected a JSON object", path=path, field=key)
    for name, value in results["metrics"].items():
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InputError("expected a number or null", path=path, field=f"metrics.{name}")
    for key, kind in META_TYPES.items():
        value = results["meta"].get(key)
        if value is not None and not isinstance(value, kind):
            expected = "a JSON object" if kind is dict else "a JSON array"
            problem = f"expected {expected} (edited by hand?); rerun `crma-eval analyze`"
            raise InputError(problem, path=path, field=f"meta.{key}")
    for name, entry in results["plugins"].items():
        if not isinstance(entry, dict):
            raise InputError("expected a JSON object", path=path, field=f"plugins.{name}")
    return results
