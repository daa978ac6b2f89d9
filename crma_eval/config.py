"""The run configuration (`crma-eval run CONFIG.yaml`): YAML validated into pydantic models.

Relative paths are resolved against the config file's folder. Each plugin may add its own options
under `options.<plugin>`; the plugin validates them.
"""

from __future__ import annotations

import glob
import hashlib
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from crma_eval.errors import InputError
from crma_eval.naming import check_unique
from crma_eval.yamlio import YamlDoc


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EngineConfig(_Strict):
    """How models are loaded and run (passed through to transformers)."""

    device: str = "cpu"
    dtype: Literal["float32", "bfloat16", "float16", "auto"] = "float32"
    device_map: str | dict[str, Any] | None = None
    batch_size: int = Field(8, ge=1)
    max_length: int = Field(512, ge=8)
    trust_remote_code: bool = False
    threads: int | None = Field(None, ge=1, description="torch CPU threads (None: torch's default)")


class GenerationConfig(_Strict):
    """Greedy generation settings for QA answers (part of every cache key)."""

    max_new_tokens: int = Field(32, ge=1)
    stop: list[str] = Field(default_factory=lambda: ["\n"])
    prompt_template: str = "Question: {question}\nAnswer:"


class Arm(_Strict):
    """One QA arm: CRMA on or off, and how the adapter is chosen."""

    name: str = Field(min_length=1)
    crma: bool = True
    adapter: Literal["oracle", "router", "none"] = "oracle"
    conditions: list[str] | None = Field(
        None, description="only checkpoints trained under these conditions (None: all)"
    )

    def applies_to(self, checkpoint: Any) -> bool:
        """Whether this arm evaluates `checkpoint` (by its training condition)."""
        training = checkpoint.manifest.training
        return self.conditions is None or (
            training is not None and training.condition in self.conditions
        )


class DataConfig(_Strict):
    """Evaluation data: per-domain holdout text and QA sets, and a router stress suite."""

    holdout: dict[str, Path] = Field(default_factory=dict)
    qa: dict[str, Path] = Field(default_factory=dict)
    router_suite: Path | None = None


class AnalysisConfig(_Strict):
    """Statistical choices of the analysis step."""

    confidence: float = Field(0.95, gt=0, lt=1)
    ci_method: Literal["wilson", "clopper_pearson", "jeffreys", "agresti_coull"] = "wilson"
    mcnemar_method: Literal["exact", "midp", "chi2"] = "exact"
    seed: int = 0


class RunConfig(_Strict):
    """A whole evaluation run: checkpoints, data, plugins, arms and settings."""

    name: str = "run"
    out: Path | None = None
    checkpoints: list[Path] = Field(default_factory=list)
    checkpoint_glob: str | None = None
    base_model: str | None = None
    plugins: list[str] = Field(
        default_factory=lambda: ["drift", "qa", "ablation", "router", "spectral"]
    )
    arms: list[Arm] = Field(
        default_factory=lambda: [Arm(name="with_crma"), Arm(name="without_crma", crma=False)]
    )
    qa_checkpoints: Literal["final", "all"] = "final"
    engine: EngineConfig = Field(default_factory=EngineConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    source: Path | None = Field(None, exclude=True)

    @field_validator("arms")
    @classmethod
    def _unique_arms(cls, arms: list[Arm]) -> list[Arm]:
        check_unique([a.name for a in arms], "arm")
        return arms

    @field_validator("generation")
    @classmethod
    def _room_for_prompt(cls, generation: GenerationConfig, info: ValidationInfo) -> Any:
        engine = info.data.get("engine")
        if engine is not None and generation.max_new_tokens >= engine.max_length:
            raise ValueError(
                f"max_new_tokens ({generation.max_new_tokens}) must be smaller than "
                f"engine.max_length ({engine.max_length}), which also holds the prompt"
            )
        return generation

    def error(self, problem: str, loc: tuple[str | int, ...] = ()) -> InputError:
        """An InputError naming the config file and the line of `loc` (when read from a file)."""
        field = ".".join(map(str, loc)) or None
        if self.source is None or not Path(self.source).is_file():
            return InputError(problem, path=self.source, field=field)
        return YamlDoc(self.source).error(problem, loc, field=field)

    def check_arms(self, checkpoints: list[Any]) -> None:
        """Refuse an arm with `crma: true` on a checkpoint it applies to that has no `crma:`
        block (it would silently run without CRMA): InputError on the arm's config line."""
        for index, arm in enumerate(self.arms):
            lacking = [c for c in checkpoints if arm.applies_to(c) and c.manifest.crma is None]
            if arm.crma and lacking:
                raise self.error(
                    f"arm {arm.name!r} has crma: true but checkpoint {lacking[0].id} has no crma:"
                    f" block ({lacking[0].manifest_path}); set crma: false or limit the arm with"
                    " conditions:",
                    ("arms", index, "crma"),
                )

    def checkpoint_paths(self) -> list[Path]:
        """Listed checkpoints plus those matched by `checkpoint_glob`, without repeats."""
        paths = list(self.checkpoints)
        if self.checkpoint_glob:
            paths += [Path(p) for p in sorted(glob.glob(self.checkpoint_glob))]
        return list(dict.fromkeys(paths))

    def config_hash(self) -> str:
        """Content hash of the validated config (recorded in results.json meta)."""
        text = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def _resolve(base: Path, path: Path | None) -> Path | None:
    return None if path is None else (path if path.is_absolute() else base / path)


def _base_model(doc: YamlDoc, value: str | None) -> str | None:
    """A relative base_model naming an existing path is taken from the config's folder; a
    `./` or `../` path that does not exist is an error; anything else is a hub id."""
    if value is None or Path(value).is_absolute():
        return value
    local = doc.path.parent / value
    if local.exists():
        return str(local.resolve())
    if value.startswith(("./", "../", ".\\", "..\\")):
        raise doc.error(f"base model folder {local} not found", ("base_model",), "base_model")
    return value


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a run config; relative paths are taken from the config's folder."""
    doc = YamlDoc(path)
    config: RunConfig = doc.validate(RunConfig)
    base = doc.path.parent
    data = config.data
    config.checkpoints = [_resolve(base, p) for p in config.checkpoints]
    if config.checkpoint_glob and not Path(config.checkpoint_glob).is_absolute():
        config.checkpoint_glob = str(base / config.checkpoint_glob)
    config.out = _resolve(base, config.out)
    config.base_model = _base_model(doc, config.base_model)
    data.holdout = {d: _resolve(base, p) for d, p in data.holdout.items()}
    data.qa = {d: _resolve(base, p) for d, p in data.qa.items()}
    data.router_suite = _resolve(base, data.router_suite)
    config.source = doc.path
    return config
