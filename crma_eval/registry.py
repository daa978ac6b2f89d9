"""Plugins and CRMA module implementations, discovered through entry points.

Built-in plugins are registered in pyproject.toml exactly as a third party would register its own:
`[project.entry-points."crma_eval.plugins"] name = "package.module:PluginClass"`.
"""

from __future__ import annotations

import warnings
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from crma_eval.errors import InputError
from crma_eval.plugins.base import Plugin

PLUGIN_GROUP = "crma_eval.plugins"
CRMA_MODULE_GROUP = "crma_eval.crma_modules"
ROUTER_GROUP = "crma_eval.routers"


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


def crma_module(name: str) -> Any:
    """The CRMA module implementation registered under `name` (group crma_eval.crma_modules)."""
    eps = _entry_points(CRMA_MODULE_GROUP)
    if name not in eps:
        known = ", ".join(sorted(eps)) or "none"
        raise InputError(f"unknown CRMA module implementation {name!r} (installed: {known})")
    return eps[name].load()


def router_class(name: str) -> Any:
    """The router class registered as `name` (group crma_eval.routers) or named
    `package.module:Class`; unknown or unloadable names are bad input (exit 2)."""
    eps = _entry_points(ROUTER_GROUP)
    if name in eps:
        return eps[name].load()
    if ":" not in name:
        known = ", ".join(sorted(eps)) or "none"
        raise InputError(f"unknown router implementation {name!r} (installed: {known})")
    try:
        return EntryPoint(name=name, value=name, group=ROUTER_GROUP).load()
    except (ImportError, AttributeError) as exc:
        raise InputError(f"cannot load router implementation {name!r}: {exc}") from None
