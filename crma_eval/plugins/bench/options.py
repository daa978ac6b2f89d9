"""Options of the bench plugin (`options.bench` of a run config) and how arms pick their weights.

Errors name the config file and the line of the offending option.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crma_eval import InputError, YamlDoc, check_unique

DEFAULT_TASKS: tuple[str, ...] = (
    "hellaswag",
    "arc_challenge",
    "truthfulqa_mc2",
    "winogrande",
    "mmlu",
    "gsm8k_crma",  # lm-eval's gsm8k (strict-match, flexible-extract) plus crma-corrected
)
LOC: tuple[str, str] = ("options", "bench")


class BenchArm(BaseModel):
    """One arm: which checkpoint, which of its adapters, CRMA on or off.

    checkpoint: `final` (the last listed checkpoint that has trained every domain), `none` (the
    base model) or a checkpoint id. adapter: `last` (the checkpoint's last trained domain), `none`
    or a domain name (oracle choice).
    """

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    checkpoint: str = "final"
    crma: bool = True
    adapter: str = "last"

    @model_validator(mode="after")
    def _base_has_nothing(self) -> BenchArm:
        if self.checkpoint == "none" and (self.crma or self.adapter != "none"):
            raise ValueError("an arm with checkpoint 'none' needs crma: false and adapter: none")
        return self


def _default_arms() -> list[BenchArm]:
    return [
        BenchArm(name="base", checkpoint="none", crma=False, adapter="none"),
        BenchArm(name="after", checkpoint="final", crma=True, adapter="last"),
    ]


class BenchOptions(BaseModel):
    """What to run through lm-eval, for which arms, and how the analysis reads it."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[str] = Field(default_factory=lambda: list(DEFAULT_TASKS), min_length=1)
    arms: list[BenchArm] = Field(default_factory=_default_arms, min_length=1)
    limit: int | float | None = Field(None, gt=0)
    num_fewshot: int | None = Field(None, ge=0)
    include_path: list[Path] = Field(default_factory=list)
    batch_size: int | None = Field(None, ge=1)
    max_length: int | None = Field(None, ge=8)
    gen_kwargs: dict[str, Any] | None = None
    fewshot_seed: int = 1234
    offline: bool = False
    cache: bool = True
    cache_dir: Path | None = None
    metrics: dict[str, str | list[str]] = Field(default_factory=dict)
    scales: dict[str, Literal["fraction", "percent", "points", "unbounded", "unknown"]] = Field(
        default_factory=dict
    )
    base_arm: str | None = None

    @field_validator("arms")
    @classmethod
    def _unique(cls, arms: list[BenchArm]) -> list[BenchArm]:
        check_unique([a.name for a in arms], "arm")
        return arms

    @field_validator("tasks")
    @classmethod
    def _named(cls, tasks: list[str]) -> list[str]:
        if any(not t.strip() for t in tasks):
            raise ValueError("task names must not be empty")
        return tasks


def _line(config: Any, loc: tuple[Any, ...]) -> int | None:
    source = getattr(config, "source", None)
    if source is None or not Path(source).exists():
        return None
    return YamlDoc(source).line_of((*LOC, *loc))


def option_error(config: Any, problem: str, loc: tuple[Any, ...] = ()) -> InputError:
    """An InputError naming the config file and the line of `options.bench.<loc>`."""
    field = ".".join(str(p) for p in (*LOC, *loc))
    return InputError(
        problem, path=getattr(config, "source", None), line=_line(config, loc), field=field
    )


def load_options(config: Any) -> BenchOptions:
    """Validate `options.bench`; relative include_path and cache_dir start at the config folder
    (task YAML paths too: `task_spec`)."""
    raw = (config.options or {}).get("bench", {}) or {}
    try:
        opts = BenchOptions.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = "missing" if err["type"] == "missing" else err["msg"].removeprefix("Value error, ")
        raise option_error(config, msg, tuple(err["loc"])) from None
    source = getattr(config, "source", None)
    if source is not None:
        base = Path(source).parent
        opts.include_path = [p if p.is_absolute() else base / p for p in opts.include_path]
        if opts.cache_dir is not None and not opts.cache_dir.is_absolute():
            opts.cache_dir = base / opts.cache_dir
    return opts


def task_spec(config: Any, spec: str) -> str:
    """A task given as a YAML path (`.yaml`/`.yml`) relative to the run config's folder, made
    absolute (like `out:` and every path in the file); task, group and tag names unchanged."""
    source = getattr(config, "source", None)
    if not spec.endswith((".yaml", ".yml")) or source is None or Path(spec).is_absolute():
        return spec
    return str(Path(source).parent / spec)


def resolve_checkpoint(config: Any, arm: BenchArm, index: int, checkpoints: list[Any]) -> Any:
    """The checkpoint an arm evaluates (None for the base model)."""
    if arm.checkpoint == "none":
        return None
    if not checkpoints:
        raise option_error(
            config,
            f"arm {arm.name!r} needs a checkpoint; the run has none",
            ("arms", index, "checkpoint"),
        )
    if arm.checkpoint == "final":
        finals = [c for c in checkpoints if getattr(c, "is_final", True)]
        return (finals or checkpoints)[-1]
    for ckpt in checkpoints:
        if ckpt.id == arm.checkpoint:
            return ckpt
    known = ", ".join(c.id for c in checkpoints)
    raise option_error(
        config,
        f"no checkpoint with id {arm.checkpoint!r} (known: {known})",
        ("arms", index, "checkpoint"),
    )


def resolve_adapter(config: Any, arm: BenchArm, index: int, checkpoint: Any) -> str | None:
    """The domain whose adapter the arm uses (None = no adapter)."""
    if arm.adapter == "none" or checkpoint is None:
        return None
    domain = checkpoint.last_domain if arm.adapter == "last" else arm.adapter
    if domain is None or checkpoint.adapter_path(domain) is None:
        raise option_error(
            config,
            f"checkpoint {checkpoint.id} has no adapter for domain {domain!r}",
            ("arms", index, "adapter"),
        )
    return domain
