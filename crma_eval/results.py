"""results.json: the analysis output that the report, the gate and comparisons read."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crma_eval.errors import InputError

RESULTS_SCHEMA = "crma-eval/results/1"
CLAIMS_JSON = "claims.json"  # RUN_DIR/claims.json, written by `crma-eval claims ... RUN_DIR`


def load_results(run_dir: str | Path) -> dict[str, Any]:
    """Read and check RUN_DIR/results.json; bad input raises InputError naming the file."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise InputError("run directory not found", path=run_dir)
    path = run_dir / "results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found (run `crma-eval analyze` first)", path=path) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=path) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"malformed JSON: {exc.msg}", path=path, line=exc.lineno) from None
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
    for name, entry in results["plugins"].items():
        if not isinstance(entry, dict):
            raise InputError("expected a JSON object", path=path, field=f"plugins.{name}")
    return results
