"""The collect contract: units, the context collectors share, collectors, executors, sessions.

A plugin that collects names a `Collector` class (`Plugin.collector`, a dotted path). The
collector lists its units (plugin, checkpoint, arm, domain) and produces the records of one unit;
the collect stage (crma_eval.collect) runs the units the ledger lacks and commits each atomically.
An `Executor` takes that loop elsewhere (crma_eval.collect.executors). A `Session` is what a
collector asks the model for: the real one is crma_eval.engine.EngineSession, the fake one (no
torch, deterministic) crma_eval.engine.fake.FakeSession.

This module imports nothing above the contract: the run config, checkpoints and run directory
are the objects `crma_eval.RunConfig`, `crma_eval.Checkpoint` and `crma_eval.store.RunDir`,
typed here only by what the collect stage needs of them.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

from crma_eval.api.errors import InputError
from crma_eval.api.registry import ENGINE_GROUP, load_object


@dataclass(frozen=True)
class Unit:
    """The smallest resumable piece of collect work."""

    plugin: str
    checkpoint: str
    arm: str
    domain: str

    @property
    def key(self) -> str:
        """Stable ledger key of the unit."""
        return "|".join((self.plugin, self.checkpoint, self.arm, self.domain))


class Session(Protocol):
    """What collectors ask of a model: the base loaded once, adapters and CRMA switched in place.

    Implemented by crma_eval.engine.EngineSession (transformers + PEFT) and
    crma_eval.engine.fake.FakeSession (deterministic, no torch).
    """

    def activate(self, checkpoint: Any, domain: str | None, crma: bool) -> Any:
        """Use the adapter of `domain` (None: none) and, if `crma`, the checkpoint's CRMA."""
        ...

    def base_only(self) -> AbstractContextManager[None]:
        """Within the block the model is the bare base."""
        ...

    def holdout_loss(self, texts: list[str]) -> tuple[float, int]:
        """Mean NLL per predicted token over `texts` (nats), and the number of tokens."""
        ...

    def generate(self, prompts: list[str], max_new_tokens: int, stop: list[str]) -> list[str]:
        """Greedy answers to `prompts`, cut at the first stop string."""
        ...

    def embed(self, texts: list[str]) -> Any:
        """Router encoder: one L2-normalised row (numpy array) per text."""
        ...


@dataclass
class CollectContext:
    """What collectors share: config, loaded checkpoints, run directory, one lazy session.

    config: a crma_eval.RunConfig. checkpoints: loaded crma_eval.Checkpoint objects. run_dir: the
    crma_eval.store.RunDir units are committed to. session_factory: builds the Session on first
    use (None: collectors that need a model raise RuntimeError).
    """

    config: Any
    checkpoints: list[Any]
    run_dir: Any
    session_factory: Callable[[], Session] | None = None
    _session: Session | None = field(default=None, repr=False)

    @classmethod
    def from_config(
        cls,
        config: Any,
        run_dir: Any,
        checkpoints: list[Any] | None = None,
        engine: str | None = None,
    ) -> CollectContext:
        """The context of a run: `checkpoints` (default: `config.load_checkpoints()`, which
        raises InputError when there are none) and a session factory for the base model
        (`config.base_model`, else the first checkpoint's) with `config.engine`. `engine` names
        the Session class: an entry point of group crma_eval.engines ("transformers", "fake")
        or `package.module:Class` (None: the config's `engine.session`). An unknown one is an
        InputError naming the config file."""
        if checkpoints is None:
            checkpoints = config.load_checkpoints()
        name = engine if engine is not None else config.engine.session
        try:
            session_class = load_object(ENGINE_GROUP, name, "engine session")
        except InputError as exc:
            raise InputError(exc.problem, path=config.source, field="engine.session") from None
        base = config.base_model or (checkpoints[0].base_model if checkpoints else None)

        def make() -> Session:
            session: Session = session_class(base, config.engine)
            return session

        return cls(config, checkpoints, run_dir, make)

    def session(self) -> Session:
        """The engine session (base model loaded once), created on first use."""
        if self._session is None:
            if self.session_factory is None:
                raise RuntimeError("no engine session factory configured")
            self._session = self.session_factory()
        return self._session

    def checkpoint(self, checkpoint_id: str) -> Any:
        """The loaded checkpoint with this id (KeyError when none has it)."""
        for ckpt in self.checkpoints:
            if ckpt.id == checkpoint_id:
                return ckpt
        raise KeyError(checkpoint_id)


class Collector(Protocol):
    """A plugin's collect step."""

    def units(self, ctx: CollectContext) -> list[Unit]:
        """All units this plugin would collect for the run."""
        ...

    def run(self, unit: Unit, ctx: CollectContext) -> list[dict[str, Any]]:
        """Records (each with a declared `kind`, docs/records.md) of one unit."""
        ...


@dataclass
class UnitFailure:
    """A unit (or a whole plugin's plan, unit None) that failed on bad input; the rest went on."""

    unit: str | None
    problem: str
    plugin: str | None = None
    stage: str = "collect"

    def one_line(self) -> str:
        """`<stage> <plugin or unit>: <problem>` on one line (newlines folded)."""
        where = self.unit or f"plugin {self.plugin}"
        return " ".join(f"{self.stage} {where}: {self.problem}".split())


Progress = Callable[[str, int, int], None]
"""Progress callback: (label of the latest unit, units resolved + 1, units planned)."""


class Executor(Protocol):
    """Runs the units the ledger lacks and commits them into `ctx.run_dir` in plan order; must
    leave the run directory exactly as the serial loop would (records in plan order, one ledger
    entry per unit) and return the units that failed on bad input."""

    def run(
        self,
        collectors: dict[str, Collector],
        ctx: CollectContext,
        on_progress: Progress | None = None,
    ) -> list[UnitFailure]:
        """Collect every unit not yet committed; return units that failed on bad input."""
        ...
