"""Every `crma-eval` verb, registered in one place.

`BUILTIN` lists the verbs crma-eval ships (name -> `module:attribute` of its click command);
installed plugins add theirs through `Plugin.commands` (name -> a dotted path inside the plugin).
Commands are imported only when a verb runs or `--help` lists them, so the entry point stays light.
A plugin verb never shadows a built-in one. `crma_eval.cli` is only the click group and the
exit-code edge around these.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click

    from crma_eval.api import Plugin

BUILTIN: dict[str, str] = {
    "analyze": "crma_eval.verbs.pipeline:analyze",
    "audit": "crma_eval.verbs.audit:audit",
    "claims": "crma_eval.verbs.claims:claims",
    "compare": "crma_eval.verbs.checks:compare",
    "demo": "crma_eval.verbs.pipeline:demo",
    "docs": "crma_eval.verbs.listing:docs",
    "export": "crma_eval.verbs.export:export",
    "gate": "crma_eval.verbs.checks:gate",
    "init": "crma_eval.verbs.pipeline:init",
    "plan": "crma_eval.verbs.plan:plan",
    "plugins": "crma_eval.verbs.listing:list_plugins",
    "report": "crma_eval.verbs.pipeline:report",
    "rescore": "crma_eval.verbs.rescore:rescore",
    "review": "crma_eval.verbs.review:review",
    "run": "crma_eval.verbs.pipeline:run",
    "tasks-path": "crma_eval.verbs.pipeline:tasks_path",
}


def plugin_verbs() -> dict[str, tuple[Plugin, str]]:
    """Verb -> (plugin, dotted path of its click command) for every installed plugin's verbs that
    no built-in verb already names."""
    from crma_eval.api.registry import plugins

    found = {verb: (p, path) for p in plugins().values() for verb, path in p.commands.items()}
    return {verb: where for verb, where in found.items() if verb not in BUILTIN}


def verb_names() -> list[str]:
    """Every verb's name, built-in and contributed, sorted."""
    return sorted({*BUILTIN, *plugin_verbs()})


def load_verb(name: str) -> click.Command | None:
    """The click command of verb `name` (imported now), or None when no verb has that name."""
    if name in BUILTIN:
        module, attribute = BUILTIN[name].split(":")
        command: click.Command = getattr(importlib.import_module(module), attribute)
        return command
    contributed = plugin_verbs().get(name)
    if contributed is None:
        return None
    plugin, path = contributed
    loaded: click.Command = plugin.load(path)
    return loaded
