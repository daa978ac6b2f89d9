"""What an export says about the run besides its metrics: its name, parameters and tags.

Parameters (strings): the config fingerprint (`meta.config_hash`), the base model ids and the
checkpoint ids with their content hashes (from `RUN_DIR/run.json`, when `crma-eval run` wrote
one), the analysis options, the input files' sha256. Tags: the results schema and crma-eval's
version. Never the command line or the environment (they may hold secrets). Names and ids are
untrusted text: exported as data only.
"""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crma_eval.errors import InputError


@dataclass(frozen=True)
class RunContext:
    """name: the run's name; params/tags: flat string maps; files: artifacts to attach."""

    name: str
    params: dict[str, str]
    tags: dict[str, str]
    files: list[Path]


def require(module: str, extra: str) -> None:
    """InputError (exit 2) naming the pip extra when the optional library `module` is missing."""
    if importlib.util.find_spec(module) is None:
        raise InputError(f"the {extra} export needs {module}: pip install 'crma-eval[{extra}]'")


def _run_json(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read ({type(exc).__name__}); re-run the run", path=path) from exc
    return data if isinstance(data, dict) else {}


def run_context(run_dir: Path, results: dict[str, Any]) -> RunContext:
    """The name, params, tags and artifact files of the run in `run_dir` (results.json loaded)."""
    meta = results.get("meta") or {}
    prov = _run_json(run_dir)
    name = str(meta.get("name") or prov.get("name") or run_dir.resolve().name)
    params: dict[str, str] = {}
    for key in ("config_hash", "config"):
        if meta.get(key) or prov.get(key):
            params[key] = str(meta.get(key) or prov.get(key))
    for model, fingerprint in sorted((prov.get("base_models") or {}).items()):
        params[f"base_model.{model}"] = str(fingerprint)
    for ckpt, digest in sorted((prov.get("checkpoints") or {}).items()):
        params[f"checkpoint.{ckpt}"] = str(digest)
    for key, value in sorted((meta.get("options") or {}).items()):
        params[f"option.{key}"] = json.dumps(value) if not isinstance(value, str) else value
    for i, entry in enumerate(meta.get("inputs") or []):
        if isinstance(entry, dict):
            params[f"input.{i}.sha256"] = str(entry.get("sha256"))
    versions = meta.get("versions") or {}
    tags = {
        "crma_eval.schema": str(results.get("schema", "")),
        "crma_eval.version": str(versions.get("crma_eval", "")),
        "crma_eval.run": name,
    }
    files = [p for p in (run_dir / "results.json", run_dir / "report.html") if p.is_file()]
    return RunContext(name, params, tags, files)
