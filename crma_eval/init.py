"""`crma-eval init`: a commented run config, a gate spec and data templates for your checkpoints.

Domains come from the checkpoints' manifests (`domain_order`), CRMA arms and the spectral plugin
only when a checkpoint ships a CRMA module, the router plugin only when one ships a router.
Existing files are never overwritten.
"""

from __future__ import annotations

import glob
import json
import os
from pathlib import Path
from typing import Any

from crma_eval.atomicio import write_text_atomic
from crma_eval.errors import InputError
from crma_eval.naming import metric_name

PLACEHOLDER_DOMAINS = ("domain_a", "domain_b")
CONFIG_NAME = "crma-eval.yaml"
GATES_NAME = "gates.yaml"


def _is_glob(pattern: str) -> bool:
    return glob.escape(pattern) != pattern


def _checkpoint_paths(patterns: list[str], notes: list[str]) -> list[str]:
    """Folders holding a manifest. A path a glob matched that is not one (a stray file, a folder
    without crma_checkpoint.yaml) is skipped with a note; one named outright is an InputError."""
    from crma_eval.checkpoint import MANIFEST_NAME

    paths: list[str] = []
    for pattern in patterns:
        found = sorted(glob.glob(pattern))
        kept = [p for p in found if (Path(p) / MANIFEST_NAME).is_file()]
        for stray in (p for p in found if p not in kept):
            problem = f"not a checkpoint folder (no {MANIFEST_NAME} inside)"
            if not _is_glob(pattern) and Path(pattern).name != MANIFEST_NAME:
                raise InputError(problem, path=stray, field="--checkpoints")
            if Path(stray).name == MANIFEST_NAME:
                kept.append(stray)
            else:
                notes.append(f"skipped {stray}: {problem}")
        if not kept:
            what = "no checkpoint folder" if found else "no checkpoint"
            raise InputError(f"{what} matches {pattern!r}", field="--checkpoints")
        paths += kept
    return paths


def _checkpoints(patterns: list[str], notes: list[str]) -> list[Any]:
    from crma_eval.checkpoint import load_checkpoint

    paths = _checkpoint_paths(patterns, notes)
    return [load_checkpoint(p) for p in dict.fromkeys(paths)]


def _rel(path: Path, out: Path) -> str:
    return os.path.relpath(path.resolve(), out.resolve())


def run_dir_for(name: str, out: Path) -> tuple[str, str]:
    """The run directory `reports/<name>` under the current folder: as the config's `out:`
    (relative to the config's folder, like every path in it) and as typed from here."""
    here = Path("reports") / name
    return Path(_rel(here, out)).as_posix(), here.as_posix()


def _options_text(checkpoints: list[Any], has_crma: bool) -> str:
    """options: the router's oracle-gap arms when a checkpoint ships a router; a commented bench
    section (standard benchmarks through lm-eval)."""
    bench = f"""  # bench:                      # standard benchmarks (add "bench" to plugins)
  #   tasks: [gsm8k_crma, arc_challenge, hellaswag]   # gsm8k_crma ships with crma-eval
  #   limit: 200                 # documents per task (20 for a first pass)
  #   arms:                      # the defaults: the bare base vs the final checkpoint
  #     - {{name: base, checkpoint: none, crma: false, adapter: none}}
  #     - {{name: after, checkpoint: final, crma: {str(has_crma).lower()}, adapter: last}}
"""
    routed = _routed_arm(checkpoints)
    if routed is None:
        return "# options:\n" + bench.replace("  # ", "#   ", 1)
    oracle = "with_crma" if routed[1] else "oracle"
    return f"""options:
  router: {{routed_arm: routed, oracle_arm: {oracle}}}   # the oracle gap: routed vs oracle adapter
{bench}"""


def _routed_arm(checkpoints: list[Any]) -> tuple[str, bool] | None:
    """The arm line of the router-chosen adapter (and whether CRMA is on) when checkpoints ship
    a router; None otherwise (and without checkpoints)."""
    routed = [c for c in checkpoints if c.manifest.router is not None]
    if not routed:
        return None
    crma = all(c.manifest.crma is not None for c in routed)
    line = f"  - {{name: routed, crma: {str(crma).lower()}, adapter: router"
    if len(routed) < len(checkpoints):
        conditions = sorted({c.manifest.training.condition for c in routed if c.manifest.training})
        line += f", conditions: {json.dumps(conditions)}"
    return line + "}   # the router picks the adapter", crma


def _config_text(name: str, checkpoints: list[Any], out: Path, domains: list[str]) -> str:
    has_crma = any(c.manifest.crma is not None for c in checkpoints) or not checkpoints
    has_router = any(c.manifest.router is not None for c in checkpoints) or not checkpoints
    out_value, _ = run_dir_for(name, out)
    plugins = ["drift", "qa", *(["ablation"] if has_crma else [])]
    plugins += [*(["router"] if has_router else []), *(["spectral"] if has_crma else [])]
    if checkpoints:
        listed = "\n".join(f"  - {json.dumps(_rel(c.path, out))}" for c in checkpoints)
        ck_lines = (
            f"checkpoints:            # checkpoint folders (crma_checkpoint.yaml inside)\n{listed}"
        )
    else:
        ck_lines = 'checkpoint_glob: "checkpoints/*"   # or checkpoints: [path, ...]'
    conditions = sorted({c.manifest.training.condition for c in checkpoints if c.manifest.training})
    arms = _arms(checkpoints)
    routed = _routed_arm(checkpoints)
    arms += [routed[0]] if routed else []
    arms.append(_cl_arm(checkpoints))
    holdout = "\n".join(f"    {d}: data/holdout/{d}.jsonl" for d in domains)
    qa = "\n".join(f"    {d}: data/qa/{d}.jsonl" for d in domains)
    return f"""# crma-eval run config, written by `crma-eval init`. Run it with:
#   crma-eval run {(out / CONFIG_NAME).as_posix()} --limit 5   # a first pass, then without --limit
# Relative paths (out: included) are taken from this file's folder; --out from the current one.
# Adding arms, plugins or checkpoints later and running again into the same `out` keeps every
# unit already collected.
name: {json.dumps(name)}                 # the report's title
out: {json.dumps(out_value)}          # the run directory (or --out)
{ck_lines}
# training conditions found in the manifests: {", ".join(conditions) or "none"}
base_model: null             # null: each manifest's base_model; a local folder or hub id overrides
plugins: {json.dumps(plugins)}
arms:                        # QA arms, evaluated on the final checkpoints
{chr(10).join(arms)}
# limit: 20                  # at most N QA items / holdout texts per domain (setup runs)
engine: {{device: cpu, dtype: float32, batch_size: 8, max_length: 512}}
generation:
  {{max_new_tokens: 32, stop: ["\\n"], prompt_template: "Question: {{question}}\\nAnswer:"}}
data:                        # replace the templates' example rows with your data
  holdout:                   # JSONL {{"text": ...}}: text the model has not trained on, per domain
{holdout}
  qa:                        # JSONL {{item_id, question, reference[, answer_type: text|number]}}
{qa}
  router_suite: data/router_suite.jsonl   # JSONL {{item_id, query, category, gold}}
analysis: {{confidence: 0.95, ci_method: wilson, mcnemar_method: exact, seed: 0}}
{_options_text(checkpoints, has_crma)}"""


def _conditions(checkpoints: list[Any], crma: bool) -> list[str]:
    """Training conditions of the checkpoints that do (crma=True) or do not ship a CRMA module."""
    return sorted(
        {
            c.manifest.training.condition
            for c in checkpoints
            if c.manifest.training and (c.manifest.crma is not None) == crma
        }
    )


def _arms(checkpoints: list[Any]) -> list[str]:
    """QA arm lines: the CRMA ablation on the conditions whose checkpoints ship CRMA, a plain
    oracle arm on the others (an arm with crma: true on a checkpoint without it is an error)."""
    with_crma, without = _conditions(checkpoints, True), _conditions(checkpoints, False)
    if not checkpoints or all(c.manifest.crma is not None for c in checkpoints):
        return [
            "  - {name: with_crma, crma: true, adapter: oracle}       # oracle | router | none",
            "  - {name: without_crma, crma: false, adapter: oracle}   # the CRMA ablation",
        ]
    if not with_crma:
        return ["  - {name: oracle, crma: false, adapter: oracle}   # oracle | router | none"]
    only = json.dumps(with_crma)
    return [
        f"  - {{name: with_crma, crma: true, adapter: oracle, conditions: {only}}}",
        f"  - {{name: without_crma, crma: false, adapter: oracle, conditions: {only}}}  # ablation",
        f"  - {{name: oracle, crma: false, adapter: oracle, conditions: {json.dumps(without)}}}",
    ]


def _cl_arm(checkpoints: list[Any]) -> str:
    """A commented arm answering after every phase: the continual-learning matrix (cl plugin)."""
    crma = str(not checkpoints or all(c.manifest.crma is not None for c in checkpoints)).lower()
    return (
        f"  # - {{name: cl_matrix, crma: {crma}, adapter: oracle, checkpoints: all}}"
        '   # the cl matrix (ACC/BWT/FWT): this arm after every phase; add "cl" to plugins'
    )


def _qa_metrics(checkpoints: list[Any]) -> list[str]:
    """The gate's QA metrics: the CRMA arm's accuracy (else the plain oracle arm's), one per
    training condition when that arm answers under several (its names then carry the condition)."""
    crma = _conditions(checkpoints, True)
    arm, mine = ("with_crma", crma) if crma or not checkpoints else ("oracle", [])
    mine = mine or _conditions(checkpoints, False)
    if len(mine) > 1:
        return [metric_name("qa", arm, c, "accuracy") for c in mine]
    return [metric_name("qa", arm, "accuracy")]


def _gates_text(run_dir: str, spec: str, has_crma: bool, qa_metrics: list[str]) -> str:
    spectral = (
        '  - name: CRMA mixing matrices keep spectral norm 1\n    metric: "spectral.**.max_dev"\n'
        "    max: 1.0e-6\n"
        if has_crma
        else ""
    )
    floors = "".join(
        f"  - name: QA accuracy floor ({m})\n    metric: {m}\n    min: 0.5   # set your own\n"
        for m in qa_metrics
    )
    return f"""# Gates for {run_dir}:
#   crma-eval gate {run_dir} --spec {spec} [--baseline OLD_RUN_DIR]
globs: segments   # in metric patterns `*` matches one dotted name segment, `**` several
gates:
{floors}{spectral}  # Needs --baseline OLD_RUN_DIR (skipped with a note without it); fails only on a
  # significant drop (paired test):
  # - name: no significant QA drop against the baseline run
  #   compare: {qa_metrics[0]}
  #   max_drop: 0.02
  #   alpha: 0.05
"""


def _jsonl(rows: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r) + "\n" for r in rows)


def _data_files(domains: list[str]) -> dict[str, str]:
    files = {}
    for d in domains:
        files[f"data/holdout/{d}.jsonl"] = _jsonl(
            [{"text": f"An example {d} passage the model was not trained on."}] * 2
        )
        files[f"data/qa/{d}.jsonl"] = _jsonl(
            [
                {"item_id": f"{d}-1", "question": f"An example {d} question?", "reference": "yes"},
                {
                    "item_id": f"{d}-2",
                    "question": "What is 2 + 3?",
                    "reference": "5",
                    "answer_type": "number",
                },
            ]
        )
    suite: list[dict[str, Any]] = [
        {"item_id": f"in-{d}", "query": f"An example {d} query", "category": "in_domain", "gold": d}
        for d in domains
    ]
    suite.append({"item_id": "ood-1", "query": "Tell me a joke", "category": "ood", "gold": None})
    files["data/router_suite.jsonl"] = _jsonl(suite)
    return files


def init_project(
    patterns: list[str], out: Path, name: str | None = None, notes: list[str] | None = None
) -> list[Path]:
    """Write CONFIG_NAME, GATES_NAME and data templates under `out`; returns the files written.
    Paths a glob matched that are no checkpoint folder are skipped and named in `notes`.

    Raises InputError (nothing written) when a pattern matches no checkpoint folder, a path named
    outright is not one, a manifest is invalid, or any target file exists already.
    """
    checkpoints = _checkpoints(patterns, notes if notes is not None else [])
    domains = list(dict.fromkeys(d for c in checkpoints for d in c.manifest.domain_order))
    domains = domains or list(PLACEHOLDER_DOMAINS)
    name = name or out.resolve().name or "run"
    has_crma = any(c.manifest.crma is not None for c in checkpoints) or not checkpoints
    files = {
        CONFIG_NAME: _config_text(name, checkpoints, out, domains),
        GATES_NAME: _gates_text(
            run_dir_for(name, out)[1],
            (out / GATES_NAME).as_posix(),
            has_crma,
            _qa_metrics(checkpoints),
        ),
        **_data_files(domains),
    }
    for rel in files:
        if (out / rel).exists():
            raise InputError("exists already; remove it or choose another --out", path=out / rel)
    return [write_text_atomic(out / rel, text) for rel, text in files.items()]
