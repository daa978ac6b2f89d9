"""Plugins, the record kinds they declare, and other implementations, found through entry points.

Built-in plugins are registered in pyproject.toml exactly as a third party registers its own:
`[project.entry-points."crma_eval.plugins"] name = "package.module:PluginClass"`. Listing them
imports only their light class modules (no scipy, statsmodels, scikit-learn, matplotlib, jinja2
or torch): analysis, report and collect code is imported when used.
"""

from __future__ import annotations

import importlib
import warnings
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from crma_eval.api.errors import InputError
from crma_eval.api.plugin import Plugin, RecordKind

PLUGIN_GROUP = "crma_eval.plugins"
CRMA_MODULE_GROUP = "crma_eval.crma_modules"
ROUTER_GROUP = "crma_eval.routers"
ENGINE_GROUP = "crma_eval.engines"


def _entry_points(group: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=group)}


@cache
def plugins() -> dict[str, Plugin]:
    """All installed plugins by name, instantiated once, in report order (`order`, then name)."""
    found: dict[str, Plugin] = {}
    for name, ep in sorted(_entry_points(PLUGIN_GROUP).items()):
        try:
            cls = ep.load()
        except Exception as exc:  # a broken third-party plugin must not take the others down
            warnings.warn(f"plugin {name!r} ({ep.value}) failed to load: {exc}", stacklevel=2)
            continue
        if not (isinstance(cls, type) and issubclass(cls, Plugin)):
            raise TypeError(f"entry point {ep.value} is not a crma_eval Plugin subclass")
        if cls.name != name:
            raise TypeError(f"entry point {name!r} loads plugin named {cls.name!r}")
        found[name] = cls()
    return dict(sorted(found.items(), key=lambda item: (item[1].order, item[0])))


def get_plugin(name: str) -> Plugin:
    """One installed plugin by name; unknown names are bad input (exit 2)."""
    try:
        return plugins()[name]
    except KeyError:
        known = ", ".join(plugins()) or "none"
        raise InputError(f"unknown plugin {name!r} (installed: {known})") from None


@cache
def record_kinds() -> dict[str, RecordKind]:
    """Every record kind the installed plugins declare, by name.

    Raises TypeError when two plugins declare the same kind (a packaging bug, not bad input).
    """
    found: dict[str, RecordKind] = {}
    owner: dict[str, str] = {}
    for name, plugin in plugins().items():
        for kind in plugin.record_kinds:
            if kind.name in found:
                raise TypeError(
                    f"record kind {kind.name!r} is declared by plugins {owner[kind.name]!r} "
                    f"and {name!r}"
                )
            found[kind.name], owner[kind.name] = kind, name
    return found


def data_entries() -> dict[str, str]:
    """The run config's `data` entries every installed plugin reads: name -> shape."""
    found: dict[str, str] = {}
    for plugin in plugins().values():
        found.update(plugin.data)
    return found


def load_object(group: str, name: str, what: str) -> Any:
    """An implementation by entry-point name in `group`, or by `package.module:Attribute`.

    Unknown names and unimportable paths are bad input (exit 2) naming what was looked for.
    """
    eps = _entry_points(group)
    if name in eps:
        return eps[name].load()
    module_name, sep, attr = name.partition(":")
    if sep and attr and module_name and all(p.isidentifier() for p in module_name.split(".")):
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise InputError(
                f"cannot import {what} {name!r} ({exc}); install its package"
            ) from None
        if not hasattr(module, attr):
            raise InputError(f"module {module_name!r} has no {attr!r} ({what})")
        return getattr(module, attr)
    known = ", ".join(sorted(eps)) or "none"
    raise InputError(f"unknown {what} {name!r} (installed: {known}; or give package.module:Class)")


CRMA_PROTOCOL = ("load", "attach", "bypass", "mixing_matrices")


def crma_module(name: str) -> Any:
    """The CRMA module class named `name`: an entry point of group crma_eval.crma_modules, or
    `package.module:Class` of an installed package. The class must implement the CRMA protocol
    (methods load, attach, bypass, mixing_matrices), so an untrusted manifest cannot name an
    arbitrary callable; anything else is an InputError."""
    cls = load_object(CRMA_MODULE_GROUP, name, "CRMA module implementation")
    lacking = [m for m in CRMA_PROTOCOL if not callable(getattr(cls, m, None))]
    if not isinstance(cls, type) or lacking:
        raise InputError(
            f"CRMA implementation {name!r} is not a CRMA module class (needs methods"
            f" {', '.join(CRMA_PROTOCOL)})"
        )
    return cls


def router_class(name: str) -> Any:
    """The router implementation named `name`: an entry point of group crma_eval.routers, or
    `package.module:Class`; unknown or unloadable names are bad input (exit 2)."""
    return load_object(ROUTER_GROUP, name, "router implementation")
