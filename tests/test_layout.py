"""The layout keeps its promises: light plugin listing, no global side effects, no import cycles,
no imports running up the layers, and record docs that match the declared kinds."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from crma_eval.api.registry import plugins, record_kinds

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
    records = Path(__file__).resolve().parents[1] / "examples" / "paper"
    code = f"""
import matplotlib
matplotlib.use("pdf")
matplotlib.rcParams["font.size"] = 13.0
matplotlib.rcParams["text.parse_math"] = True
before = dict(matplotlib.rcParams)
from crma_eval import analyze_paths, render_report
analyze_paths([{str(records / "loss.jsonl")!r}, {str(records / "qa.jsonl")!r}], {str(tmp_path)!r})
render_report({str(tmp_path)!r})
changed = sorted(k for k, v in matplotlib.rcParams.items() if str(before.get(k)) != str(v))
assert matplotlib.get_backend() == "pdf", matplotlib.get_backend()
assert changed == [], changed
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "report.html").stat().st_size > 0


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, top_level_only: bool, modules: set[str]) -> set[str]:
    """crma_eval modules a file imports (module level, incl. TYPE_CHECKING; or everywhere).

    `from package import submodule` counts as importing the submodule only (the implicit import
    of a parent package is not an edge)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = ast.walk(tree) if not top_level_only else _module_level(tree.body)
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("crma_eval"):
            subs = {f"{node.module}.{a.name}" for a in node.names} & modules
            found |= subs or {node.module}
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("crma_eval"))
    return found


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    """Statements at module level, looking inside `if` blocks (TYPE_CHECKING) and `try`."""
    out: list[ast.stmt] = []
    for stmt in body:
        out.append(stmt)
        if isinstance(stmt, ast.If):
            out += _module_level(stmt.body) + _module_level(stmt.orelse)
        elif isinstance(stmt, ast.Try):
            out += _module_level(stmt.body)
    return out


def _graph(top_level_only: bool) -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        if name == "crma_eval":  # the public API: lazy, names everything for type checkers only
            continue
        imported = _imports(path, top_level_only, set(files))
        graph[name] = {m for m in imported if m in files and m != name}
    return graph


def test_no_import_cycles() -> None:
    graph = _graph(top_level_only=True)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_no_imports_running_up_the_layers() -> None:
    graph = _graph(top_level_only=False)
    for module, targets in graph.items():
        if module.startswith("crma_eval.plugins"):
            assert not any(t.startswith("crma_eval.report") for t in targets), module
        if module.startswith("crma_eval.gate"):
            assert not any(t.startswith("crma_eval.report") for t in targets), module
        if module.startswith("crma_eval.report"):
            assert not any(t.startswith("crma_eval.gate") for t in targets), module


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
