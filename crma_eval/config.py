"""The run configuration (`crma-eval run CONFIG.yaml`): YAML validated into pydantic models.

Relative paths are resolved against the config file's folder. The `data` entries and the
`options.<plugin>` sections belong to plugins: each is checked against the installed plugin that
declares it (`Plugin.data`, `Plugin.options_model`), with errors naming file, line and field.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_serializer,
)

from crma_eval.errors import InputError
from crma_eval.naming import check_unique
from crma_eval.scorers.config import ScorersConfig
from crma_eval.validation_words import allowed_keys, plain
from crma_eval.yamlio import YamlDoc

if TYPE_CHECKING:
    from crma_eval.checkpoint import Checkpoint


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
    session: str = Field(
        "transformers",
        min_length=1,
        description="the engine session class: an entry point of group crma_eval.engines"
        " (transformers; fake: deterministic outputs without torch, for tests and dry runs)"
        " or package.module:Class",
    )

    def identity(self) -> dict[str, Any]:
        """The settings as hashed into fingerprints and config_hash: `session` is left out while
        it is the default, so hashes made before the field existed stay valid."""
        data = self.model_dump(mode="json")
        if data["session"] == "transformers":
            del data["session"]
        return data


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
    checkpoints: Literal["final", "all"] | None = Field(
        None, description="final checkpoints or all of them (None: the run's qa_checkpoints)"
    )

    @model_serializer(mode="wrap")
    def _unset_checkpoints_left_out(self, handler: SerializerFunctionWrapHandler) -> Any:
        """Leave `checkpoints` out while unset, so existing arms keep their fingerprints."""
        data = handler(self)
        if self.checkpoints is None and isinstance(data, dict):
            data.pop("checkpoints", None)
        return data

    def applies_to(self, checkpoint: Checkpoint) -> bool:
        """Whether this arm evaluates `checkpoint` (by its training condition)."""
        training = checkpoint.manifest.training
        return self.conditions is None or (
            training is not None and training.condition in self.conditions
        )


class DataConfig(BaseModel):
    """Evaluation data files, one entry per name a plugin reads (`Plugin.data`).

    An entry is one path (`file`) or a mapping domain -> path (`per_domain`); the built-ins read
    `holdout` and `qa` (per domain) and `router_suite` (one file).
    """

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Path | dict[str, Path] | None] = Field(init=False)

    def entries(self) -> dict[str, Path | dict[str, Path] | None]:
        """Every data entry by name."""
        return dict(self.__pydantic_extra__ or {})

    def per_domain(self, name: str) -> dict[str, Path]:
        """The domain -> path mapping of entry `name` (empty when the config has none)."""
        value = self.entries().get(name)
        return value if isinstance(value, dict) else {}

    def file(self, name: str) -> Path | None:
        """The single path of entry `name` (None when the config has none)."""
        value = self.entries().get(name)
        return value if isinstance(value, Path) else None

    def paths(self) -> list[Path]:
        """Every data file the config names, in config order."""
        found: list[Path] = []
        for value in self.entries().values():
            if isinstance(value, Path):
                found.append(value)
            elif isinstance(value, dict):
                found.extend(value.values())
        return found


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
    limit: int | None = Field(
        None, ge=1, description="at most this many QA items / holdout texts per domain (setup)"
    )
    engine: EngineConfig = Field(default_factory=EngineConfig)
    generation: GenerationConfig = Field(default_factory=GenerationConfig)
    data: DataConfig = Field(default_factory=DataConfig)
    analysis: AnalysisConfig = Field(default_factory=AnalysisConfig)
    scorers: ScorersConfig = Field(default_factory=ScorersConfig)
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

    def load_checkpoints(self) -> list[Checkpoint]:
        """The checkpoints of `checkpoint_paths()`, loaded; InputError when there are none."""
        from crma_eval.checkpoint import load_checkpoint

        paths = self.checkpoint_paths()
        if not paths:
            raise InputError(
                "no checkpoints: set `checkpoints` or `checkpoint_glob`", path=self.source
            )
        return [load_checkpoint(p) for p in paths]

    def config_hash(self) -> str:
        """Content hash of the validated config (recorded in results.json meta)."""
        data = {**self.model_dump(mode="json"), "engine": self.engine.identity()}
        text = json.dumps(data, sort_keys=True)
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


def _resolve_data(doc: YamlDoc, data: DataConfig) -> None:
    """Check each data entry against the plugins that read it; resolve its paths."""
    from crma_eval.api.registry import data_entries

    known = data_entries()
    base = doc.path.parent
    for name, value in data.entries().items():
        if name not in known:
            listed = ", ".join(sorted(known)) or "none"
            problem = f"no installed plugin reads data entry {name!r} (known: {listed})"
            raise doc.error(problem, ("data", name), field=f"data.{name}")
        shape = "per_domain" if isinstance(value, dict) else "file"
        if value is not None and shape != known[name]:
            want = "a mapping domain -> path" if known[name] == "per_domain" else "one path"
            raise doc.error(f"expected {want}", ("data", name), field=f"data.{name}")
        if isinstance(value, dict):
            resolved = {d: _resolve(base, p) for d, p in value.items()}
            for domain, path in resolved.items():
                _require_file(doc, path, ("data", name, domain))
            setattr(data, name, resolved)
        else:
            setattr(data, name, _resolve(base, value))
            _require_file(doc, getattr(data, name), ("data", name))


def _require_file(doc: YamlDoc, path: Path | None, where: tuple[str, ...]) -> None:
    """A data path that is not a file with text (missing, empty text, a folder, a file that is
    empty or holds blank lines only) is refused at load time, before a run folder is touched:
    otherwise its units would be dropped as changed and then fail. (A file whose content is bad
    fails its units at collect time.)"""
    if path is None:
        return
    problem = None
    if not path.exists():
        problem = f"file not found: {path} (relative paths are read from the config's folder)"
    elif not path.is_file():
        problem = f"not a file: {path} (a data entry names one data file)"
    elif not _has_content(path):
        problem = f"empty file (no line with text): {path}"
    if problem is not None:
        raise doc.error(problem, where, field=".".join(where))


def _has_content(path: Path) -> bool:
    """Whether a data file has a line with text; reads only up to the first one."""
    with path.open("rb") as lines:
        return any(line.strip() for line in lines)


def _check_plugins(doc: YamlDoc, config: RunConfig) -> None:
    """Every listed plugin is installed, and each `options.<plugin>` fits its options model."""
    from crma_eval.api.registry import plugins

    installed = plugins()
    for i, name in enumerate(config.plugins):
        if name not in installed:
            known = ", ".join(installed) or "none"
            problem = f"unknown plugin {name!r} (installed: {known}; see `crma-eval plugins`)"
            raise doc.error(problem, ("plugins", i), field=f"plugins.{i}")
    for name, raw in config.options.items():
        plugin = installed.get(name)
        if plugin is None:
            known = ", ".join(installed) or "none"
            raise doc.error(f"options for unknown plugin {name!r} (installed: {known})",
                            ("options", name), field=f"options.{name}")  # fmt: skip
        if plugin.options_model is not None:
            try:
                plugin.options_model.model_validate(raw or {})
            except ValidationError as exc:
                err = exc.errors()[0]
                loc = ("options", name, *err["loc"])
                model = plugin.options_model
                keys = allowed_keys(model, err["loc"]) if err["type"] == "extra_forbidden" else ()
                raise doc.error(plain(err, keys), loc, field=".".join(map(str, loc))) from None


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a run config; relative paths are taken from the config's folder."""
    doc = YamlDoc(path)
    config: RunConfig = doc.validate(RunConfig)
    _check_plugins(doc, config)
    base = doc.path.parent.resolve()  # absolute: the same config resumes from any folder
    config.checkpoints = [p if p.is_absolute() else base / p for p in config.checkpoints]
    if config.checkpoint_glob and not Path(config.checkpoint_glob).is_absolute():
        config.checkpoint_glob = str(base / config.checkpoint_glob)
    config.out = _resolve(base, config.out)  # like every path in the file (README)
    config.out = Path(os.path.normpath(config.out)) if config.out else None
    config.base_model = _base_model(doc, config.base_model)
    _resolve_data(doc, config.data)
    config.source = doc.path
    return config
