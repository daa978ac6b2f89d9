"""Plugins and CRMA module implementations, discovered through entry points.

Built-in plugins are registered in pyproject.toml exactly as a third party would register its own:
`[project.entry-points."crma_eval.plugins"] name = "package.module:PluginClass"`.
"""

from __future__ import annotations

import importlib
import warnings
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from crma_eval.errors import InputError
from crma_eval.plugins.base import Plugin

PLUGIN_GROUP = "crma_eval.plugins"
CRMA_MODULE_GROUP = "crma_eval.crma_modules"


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


CRMA_PROTOCOL = ("load", "attach", "bypass", "mixing_matrices")


def _import_object(spec: str) -> Any:
    """The object named by `package.module:Class`; InputError when it cannot be imported."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr or not all(p.isidentifier() for p in module_name.split(".")):
        raise InputError(f"CRMA implementation {spec!r} is not of the form package.module:Class")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except ImportError as exc:
        raise InputError(
            f"cannot import CRMA implementation {spec!r} ({exc}); install its package"
        ) from None
    except AttributeError:
        raise InputError(f"module {module_name!r} has no {attr!r} (CRMA implementation)") from None
    return obj


def crma_module(name: str) -> Any:
    """The CRMA module class named `name`: an entry point of group crma_eval.crma_modules, or
    `package.module:Class` of an installed package. The class must implement the CRMA protocol
    (methods load, attach, bypass, mixing_matrices); anything else is an InputError."""
    eps = _entry_points(CRMA_MODULE_GROUP)
    if ":" in name:
        cls = _import_object(name)
    elif name in eps:
        cls = eps[name].load()
    else:
        known = ", ".join(sorted(eps)) or "none"
        raise InputError(
            f"unknown CRMA module implementation {name!r} (installed: {known}; or name a class"
            " as package.module:Class)"
        )
    lacking = [m for m in CRMA_PROTOCOL if not callable(getattr(cls, m, None))]
    if not isinstance(cls, type) or lacking:
        raise InputError(
            f"CRMA implementation {name!r} is not a CRMA module class (needs methods"
            f" {', '.join(CRMA_PROTOCOL)})"
        )
    return cls
