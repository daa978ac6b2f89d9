"""Every verb is registered in one place (crma_eval.verbs): the built-ins load under their names,
`--help` lists exactly the registry, no click command is defined elsewhere in the core."""

from __future__ import annotations

import ast
from pathlib import Path

import click
from click.testing import CliRunner

from crma_eval.cli import cli
from crma_eval.verbs import BUILTIN, load_verb, plugin_verbs, verb_names

PACKAGE = Path(__file__).resolve().parents[1] / "crma_eval"


def test_each_builtin_verb_loads_a_click_command_of_its_name() -> None:
    for name in BUILTIN:
        command = load_verb(name)
        assert isinstance(command, click.Command), name
        assert command.name == name
    assert load_verb("no-such-verb") is None


def test_help_lists_exactly_the_registered_verbs() -> None:
    done = CliRunner().invoke(cli, ["--help"])
    assert done.exit_code == 0
    shown = [line.split()[0] for line in done.output.split("Commands:")[1].splitlines() if line]
    assert shown == verb_names()
    assert {"router-suite"} <= set(plugin_verbs())


def _decorated_commands(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                call = dec.func if isinstance(dec, ast.Call) else dec
                if isinstance(call, ast.Attribute) and call.attr in {"command", "group"}:
                    found.append(node.name)
    return found


def test_no_click_command_outside_the_verbs_package_and_plugins() -> None:
    strays = {
        str(p.relative_to(PACKAGE)): names
        for p in PACKAGE.rglob("*.py")
        if p.relative_to(PACKAGE).parts[0] not in {"verbs", "plugins"}
        and (names := _decorated_commands(p))
    }
    assert strays == {"cli.py": ["cli"]}  # the group itself
