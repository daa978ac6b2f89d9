"""The layout keeps its promises: light plugin listing, no global side effects, no import cycles
and no imports running up the layers (counting imports inside functions and under TYPE_CHECKING),
built-in plugins that use only the public API, and record docs that match the declared kinds."""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

from crma_eval.api import plugins, record_kinds

PACKAGE = Path(__file__).resolve().parents[1] / "crma_eval"
HEAVY = ("scipy", "statsmodels", "sklearn", "matplotlib", "jinja2", "torch")


def loaded_after(code: str) -> list[str]:
    """Which heavy top-level packages a fresh interpreter has imported after running `code`."""
    probe = f"import sys\n{code}\nprint(sorted({{m.split('.')[0] for m in sys.modules}}))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    found = ast.literal_eval(out.stdout.strip().splitlines()[-1])
    return [m for m in HEAVY if m in found]


def test_listing_plugins_and_kinds_imports_no_analysis_code() -> None:
    code = "import crma_eval.api.registry as r; r.plugins(); r.record_kinds()"
    assert loaded_after(code) == []


def test_public_api_and_gate_stay_light() -> None:
    assert loaded_after("import crma_eval; crma_eval.Plugin; crma_eval.Section") == []
    assert not {"jinja2", "matplotlib", "torch"} & set(loaded_after("import crma_eval.gate"))


def test_rendering_a_report_leaves_matplotlib_settings_alone(tmp_path: Path) -> None:
    import matplotlib

    from crma_eval import analyze_paths, render_report

    records = Path(__file__).resolve().parents[1] / "examples" / "paper"
    backend = matplotlib.get_backend()
    with matplotlib.rc_context():  # the caller's settings, put back for the next tests
        matplotlib.use("pdf")
        matplotlib.rcParams["font.size"] = 13.0
        matplotlib.rcParams["text.parse_math"] = True
        before = dict(matplotlib.rcParams)
        try:
            analyze_paths([records / "loss.jsonl", records / "qa.jsonl"], tmp_path)
            render_report(tmp_path)
            changed = sorted(k for k, v in matplotlib.rcParams.items() if str(before[k]) != str(v))
            assert matplotlib.get_backend() == "pdf"
        finally:
            matplotlib.use(backend)
    assert changed == []
    assert (tmp_path / "report.html").stat().st_size > 0


# The layers, bottom first. A module may import its own layer or one below, never one above; the
# longest matching prefix places a module. `crma_eval` itself (the public API) re-exports names
# lazily: an import from it counts as an import of the module that defines the name.
LAYERS: tuple[tuple[str, ...], ...] = (
    # 0: the contract every stage and plugin builds on
    ("crma_eval.api",),
    # 1: helpers without pipeline state (formatting, statistics, files, numbers, names)
    (
        "crma_eval.naming", "crma_eval.values", "crma_eval.numbers", "crma_eval.labels",
        "crma_eval.atomicio", "crma_eval.yamlio", "crma_eval.csvsafe", "crma_eval.record_formats",
        "crma_eval.figures", "crma_eval.versions", "crma_eval.drilldown", "crma_eval.stats",
        "crma_eval.fmt", "crma_eval.scoring", "crma_eval.safeload", "crma_eval.oserrors",
        "crma_eval.resources", "crma_eval.validation_words",
        "crma_eval.errors",  # a re-export of crma_eval.api.errors for the stages
    ),
    # 2: data and models: records, run directories, results, checkpoints, config, engine, scorers
    (
        "crma_eval.records", "crma_eval.store", "crma_eval.results",
        "crma_eval.pairing", "crma_eval.checkpoint", "crma_eval.config", "crma_eval.engine",
        "crma_eval.scorers", "crma_eval.collect.data", "crma_eval.derived",
    ),
    # 3: the stages and the plugins
    (
        "crma_eval.collect", "crma_eval.analyze", "crma_eval.evidence", "crma_eval.discordant",
        "crma_eval.report", "crma_eval.gate", "crma_eval.claims", "crma_eval.review",
        "crma_eval.scorers.rescore", "crma_eval.plugins", "crma_eval.plan",
        "crma_eval.export",
    ),
    # 4: the application: runs, the CLI, the demo, entry shims
    (
        "crma_eval.run", "crma_eval.init", "crma_eval.demo", "crma_eval.verbs", "crma_eval.cli",
        "crma_eval.__main__", "crma_eval.gsm8k", "crma_eval.training_hooks",
    ),
)  # fmt: skip
PUBLIC = ("crma_eval", "crma_eval.api")


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _public_names() -> dict[str, str]:
    """Name -> defining module of every name the public `crma_eval` namespace re-exports."""
    import crma_eval

    return dict(crma_eval._EXPORTS)


@functools.cache
def _imports(path: Path) -> list[tuple[str, str]]:
    """(imported crma_eval module, as written) for every import in a file: module level, inside
    functions and under TYPE_CHECKING alike.

    `from package import submodule` counts as importing the submodule only (the implicit import
    of a parent package is not an edge); `from crma_eval import name` as importing the module
    that defines `name`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    public = _public_names()
    found: list[tuple[str, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("crma_eval"):
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if sub in MODULES:
                    found.append((sub, sub))
                elif node.module == "crma_eval" and alias.name in public:
                    found.append((public[alias.name], node.module))
                else:
                    found.append((node.module, node.module))
        elif isinstance(node, ast.Import):
            found += [(a.name, a.name) for a in node.names if a.name.startswith("crma_eval")]
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        if name == "crma_eval":  # the public API: lazy, names everything for type checkers only
            continue
        graph[name] = {m for m, _ in _imports(path) if m in MODULES and m != name}
    return graph


def _layer(module: str) -> int:
    best, rank = "", -1
    for i, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            fits = module == prefix or module.startswith(prefix + ".")
            if fits and len(prefix) > len(best):
                best, rank = prefix, i
    if rank < 0:
        pytest.fail(f"{module} is in no layer: add it to LAYERS in tests/test_layout.py")
    return rank


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of `graph` (depth-first search), or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycles() -> None:
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_cycle_finder_sees_imports_inside_functions_and_type_checking(tmp_path: Path) -> None:
    code = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from crma_eval.run import x\n"
    code += "def f():\n    from crma_eval.cli import y\n"
    (tmp_path / "m.py").write_text(code, encoding="utf-8")
    assert {m for m, _ in _imports(tmp_path / "m.py")} == {"crma_eval.run", "crma_eval.cli"}
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": set()}) is None


def test_every_module_has_a_layer_and_no_import_runs_up() -> None:
    upward = [
        f"{module} (layer {_layer(module)}) imports {target} (layer {_layer(target)})"
        for module, targets in sorted(_graph().items())
        for target in sorted(targets)
        if _layer(target) > _layer(module)
    ]
    assert upward == []


def test_contract_layer_imports_only_itself() -> None:
    for module, targets in _graph().items():
        if _layer(module) == 0:
            assert all(_layer(t) == 0 for t in targets), (module, targets)


def test_no_relative_imports() -> None:
    # the scanner above reads absolute imports only; ruff's TID252 forbids the others too
    relative = [
        f"{name}: line {node.lineno}"
        for name, path in MODULES.items()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.ImportFrom) and node.level > 0
    ]
    assert relative == []


def test_stages_keep_apart() -> None:
    for module, targets in _graph().items():
        if module.startswith(("crma_eval.plugins", "crma_eval.gate")):
            assert not any(t.startswith("crma_eval.report") for t in targets), module
        if module.startswith("crma_eval.report"):
            assert not any(t.startswith("crma_eval.gate") for t in targets), module


def test_public_names_never_shadow_a_submodule() -> None:
    # `from crma_eval import x` gives the submodule crma_eval.x once that is imported
    submodules = {m.split(".")[1] for m in MODULES if m.count(".") >= 1}
    assert set(_public_names()) & submodules == set()


def test_builtin_plugins_import_only_the_public_api_and_their_own_folder() -> None:
    public = _public_names()
    for module, path in MODULES.items():
        parts = module.split(".")
        if parts[:2] != ["crma_eval", "plugins"] or len(parts) < 3:
            continue
        own = ".".join(parts[:3])
        for target, written in _imports(path):
            allowed = written in PUBLIC or written.startswith("crma_eval.api.")
            allowed |= written == own or written.startswith(own + ".")
            assert allowed, f"{module} imports {written} (use crma_eval / crma_eval.api)"
            if written == "crma_eval":
                assert target in public.values(), (module, target)


def test_analysis_never_imports_torch() -> None:
    analysis = [p for p in PACKAGE.rglob("*.py") if p.name in ("analysis.py", "section.py")]
    analysis += [PACKAGE / "analyze.py", *(PACKAGE / "stats").glob("*.py")]
    for path in analysis:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        names |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert not any(n.split(".")[0] in {"torch", "transformers", "peft"} for n in names), path


def test_record_docs_list_every_declared_field() -> None:
    docs = (PACKAGE.parent / "docs" / "records.md").read_text(encoding="utf-8")
    owners = {k.name: n for n, p in plugins().items() for k in p.record_kinds}
    for name, kind in record_kinds().items():
        row = next(line for line in docs.splitlines() if line.startswith(f"| `{name}` |"))
        assert f"| {owners[name]} |" in row
        for field in kind.schema.__annotations__:
            if field != "kind":
                assert f"`{field}`" in row, (name, field)
