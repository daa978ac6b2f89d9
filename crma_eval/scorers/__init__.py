"""Scorers of free-form QA answers, discovered like plugins (entry-point group `crma_eval.scorers`).

A scorer turns (question, reference, prediction) items into verdicts: a value in [0, 1] (1/0 for
binary scorers; graded scorers such as token_f1 pass at a threshold), or None with a note when it
abstains (e.g. a judge reply that is not the required JSON). Built-ins are registered in
pyproject.toml exactly like a third party's; a scorer may also be named `package.module:Class`.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points
from typing import Any, ClassVar

from crma_eval.errors import InputError

SCORER_GROUP = "crma_eval.scorers"


@dataclass(frozen=True)
class Item:
    """One answer to score; answer_type is 'text' or 'number'."""

    question: str
    reference: str
    prediction: str
    answer_type: str = "text"


@dataclass(frozen=True)
class Verdict:
    """A scorer's value in [0, 1], or None (abstention) with `note` saying why."""

    value: float | None
    note: str | None = None
    flag: str | None = None  # e.g. a judged answer that holds judge-format markers


class Scorer:
    """Base class of scorers. Subclasses set `name` and implement `score_one` or `score`.

    `graded`: values are in [0, 1] and an answer passes at `threshold` (default 0.5); otherwise
    values are 1.0 / 0.0. `applies` says whether the scorer can score an item at all (e.g.
    numeric needs a numeric reference); items it does not apply to get no score.
    """

    name: ClassVar[str] = ""
    graded: ClassVar[bool] = False

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options = dict(options or {})

    def applies(self, item: Item) -> bool:
        """Whether this scorer can score `item` (default: always)."""
        return True

    def score_one(self, item: Item) -> Verdict:
        """The verdict on one item (subclasses override this or `score`)."""
        raise NotImplementedError

    def score(self, items: Sequence[Item]) -> list[Verdict]:
        """Verdicts on many items, in order (override to batch or run concurrently)."""
        return [self.score_one(item) for item in items]

    def identity(self) -> dict[str, Any]:
        """What identifies this scorer's behaviour (recorded in results.json meta)."""
        return {"name": self.name, "class": f"{type(self).__module__}:{type(self).__qualname__}"}


@cache
def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=SCORER_GROUP)}


def installed_scorers() -> list[str]:
    """Names registered in the entry-point group crma_eval.scorers."""
    return sorted(_entry_points())


def scorer_class(name: str) -> type[Scorer]:
    """The class registered under `name`, or named `package.module:Class`; InputError if unknown."""
    eps = _entry_points()
    if name in eps:
        cls = eps[name].load()
    elif ":" in name:
        module, _, attr = name.partition(":")
        try:
            cls = getattr(importlib.import_module(module), attr)
        except (ImportError, AttributeError) as exc:
            raise InputError(f"cannot load scorer {name!r} ({exc})", field="scorers") from None
    else:
        known = ", ".join(installed_scorers()) or "none"
        raise InputError(
            f"unknown scorer {name!r} (installed: {known}; or give package.module:Class)",
            field="scorers",
        )
    if not (isinstance(cls, type) and issubclass(cls, Scorer)):
        raise InputError(f"scorer {name!r} is not a crma_eval.scorers.Scorer subclass")
    return cls


def make_scorer(name: str, options: Mapping[str, Any] | None = None) -> Scorer:
    """An instance of scorer `name` built with its options."""
    return scorer_class(name)(options)
