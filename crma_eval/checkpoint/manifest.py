"""The checkpoint manifest (`crma_checkpoint.yaml`): validation, safe path resolution, hashing.

Every path in a manifest is relative to the checkpoint folder and must stay inside it (no `..`,
no absolute paths, no symlinks pointing out). Weights must be safetensors; pickle-only weights
are rejected. All problems are InputErrors naming the manifest file and line.
"""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from safetensors import safe_open

from crma_eval.errors import InputError
from crma_eval.store import cached_sha256, write_text_atomic
from crma_eval.yamlio import YamlDoc

if TYPE_CHECKING:
    from crma_eval.checkpoint.router import Router

MANIFEST_NAME = "crma_checkpoint.yaml"
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl")
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CrmaSpec(_Strict):
    """The shared CRMA module: implementation name (entry point), its config and weights."""

    implementation: str = "sinkhorn"
    config: dict[str, Any] = Field(default_factory=dict)
    weights: str


class RouterSpec(_Strict):
    """The adapter router: implementation (entry point in crma_eval.routers or
    package.module:Class), encoder kind and weights file."""

    implementation: str = Field("centroid", min_length=1)
    encoder: Literal["base_mean_pool"] = "base_mean_pool"
    weights: str


class TrainingSpec(BaseModel):
    """How the checkpoint was trained (extra hyper-parameters are kept)."""

    model_config = ConfigDict(extra="allow")
    condition: str = Field(min_length=1)
    seed: int
    phase: int = Field(ge=0)
    step: int | None = Field(None, ge=0)


class LogsSpec(_Strict):
    """Training logs shipped with the checkpoint."""

    spectral: str | None = None


class Manifest(_Strict):
    """The validated contents of `crma_checkpoint.yaml`."""

    format: Literal["crma-checkpoint/1"]
    base_model: str = Field(min_length=1)
    domain_order: list[str] = Field(min_length=1)
    adapters: dict[str, str] = Field(default_factory=dict)
    crma: CrmaSpec | None = None
    router: RouterSpec | None = None
    training: TrainingSpec | None = None
    logs: LogsSpec | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Manifest:
        if len(set(self.domain_order)) != len(self.domain_order):
            raise ValueError(f"domain_order has repeated domains: {self.domain_order}")
        unknown = sorted(set(self.adapters) - set(self.domain_order))
        if unknown:
            raise ValueError(f"adapters for domains not in domain_order: {unknown}")
        if self.training and self.training.phase > len(self.domain_order):
            raise ValueError(f"training.phase {self.training.phase} exceeds the number of domains")
        return self


def hash_files(paths: list[Path]) -> str:
    """sha256 over the names and contents of files (cached by path, size and mtime)."""
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        digest.update(cached_sha256(path).encode())
    return digest.hexdigest()


class Checkpoint:
    """A loaded checkpoint folder: validated manifest, resolved paths, content hashes."""

    def __init__(self, doc: YamlDoc, manifest: Manifest) -> None:
        self.doc = doc
        self.manifest = manifest
        self.manifest_path = doc.path
        self.path = doc.path.parent.resolve()

    def error(
        self, problem: str, loc: tuple[str | int, ...] = (), field: str | None = None
    ) -> InputError:
        """An InputError naming the manifest file and the line of `loc`."""
        return self.doc.error(problem, loc, field=field or ".".join(map(str, loc)) or None)

    @property
    def phase(self) -> int:
        """Number of domains trained so far (all of them when the manifest has no training info)."""
        t = self.manifest.training
        return t.phase if t else len(self.manifest.domain_order)

    @property
    def id(self) -> str:
        """Stable id: `<condition>-seed<seed>-phase<phase>`, else the folder name."""
        t = self.manifest.training
        return f"{t.condition}-seed{t.seed}-phase{t.phase}" if t else self.path.name

    @property
    def trained_domains(self) -> list[str]:
        """Domains trained up to this checkpoint, in training order."""
        return self.manifest.domain_order[: self.phase]

    @property
    def is_final(self) -> bool:
        """True when every domain of domain_order has been trained."""
        return self.phase == len(self.manifest.domain_order)

    @property
    def last_domain(self) -> str | None:
        """The domain trained last (None before any training)."""
        return self.trained_domains[-1] if self.trained_domains else None

    def inside(self, rel: str, loc: tuple[str | int, ...]) -> Path:
        """Resolve a manifest path that must stay inside the checkpoint folder (symlinks too)."""
        if Path(rel).is_absolute():
            raise self.error(f"absolute path {rel!r} not allowed (must be inside the folder)", loc)
        root = self.path.resolve()
        full = (self.path / rel).resolve()
        if full != root and root not in full.parents:
            raise self.error(f"path {rel!r} escapes the checkpoint folder", loc)
        return full

    @cached_property
    def base_model(self) -> str:
        """The base model: a hub id, an absolute path, or a path inside the folder."""
        value = self.manifest.base_model
        if Path(value).is_absolute():
            if not Path(value).exists():
                raise self.error(f"base model folder {value} not found", ("base_model",))
            return value
        if value.startswith(".") or (self.path / value).exists():
            return str(self.inside(value, ("base_model",)))
        return value

    def adapter_path(self, domain: str) -> Path | None:
        """The LoRA adapter folder of `domain`, or None when the checkpoint has none for it."""
        rel = self.manifest.adapters.get(domain)
        return None if rel is None else self.inside(rel, ("adapters", domain))

    def adapter_file(self, domain: str, name: str) -> Path:
        """A file of `domain`'s adapter folder, resolved: a symlink pointing out of the
        checkpoint is an InputError on the `adapters.<domain>` line."""
        folder = self.adapter_path(domain)
        if folder is None:
            raise self.error(f"no adapter for domain {domain!r}", ("adapters",))
        rel = (folder / name).relative_to(self.path)
        return self.inside(str(rel), ("adapters", domain))

    @property
    def crma_path(self) -> Path | None:
        """The CRMA weights file (None without CRMA)."""
        spec = self.manifest.crma
        return None if spec is None else self.inside(spec.weights, ("crma", "weights"))

    @property
    def router_path(self) -> Path | None:
        """The router weights file (None without a router)."""
        spec = self.manifest.router
        return None if spec is None else self.inside(spec.weights, ("router", "weights"))

    @property
    def spectral_log_path(self) -> Path | None:
        """The spectral training log (None when absent)."""
        logs = self.manifest.logs
        if logs is None or logs.spectral is None:
            return None
        return self.inside(logs.spectral, ("logs", "spectral"))

    def _files(self, part: str) -> list[Path] | None:
        if part.startswith("adapter:"):
            domain = part.partition(":")[2]
            if self.adapter_path(domain) is None:
                return None
            return [self.adapter_file(domain, name) for name in ADAPTER_FILES]
        if part in ("crma", "router"):
            path = self.crma_path if part == "crma" else self.router_path
            return None if path is None else [path]
        raise ValueError(f"unknown checkpoint part {part!r}")

    def content_hash(self, part: str | None = None) -> str:
        """sha256 of the `crma`, `router` or `adapter:<domain>` files; with no part, of the
        manifest and every file it references (what changes an answer)."""
        if part is not None:
            files = self._files(part)
            if files is None:
                raise KeyError(f"checkpoint {self.id} has no {part}")
            return hash_files(files)
        parts = [f"adapter:{d}" for d in sorted(self.manifest.adapters)] + ["crma", "router"]
        files = [self.manifest_path] + [f for p in parts for f in self._files(p) or []]
        if self.spectral_log_path is not None:
            files.append(self.spectral_log_path)
        return hash_files(files)

    @cached_property
    def router(self) -> Router:
        """The checkpoint's router, of the manifest's `router.implementation` (loaded on first
        use)."""
        from crma_eval.api.registry import router_class

        if self.router_path is None or self.manifest.router is None:
            raise self.error("checkpoint has no router", ("router",))
        try:
            cls = router_class(self.manifest.router.implementation)
        except InputError as exc:
            raise self.error(exc.problem, ("router", "implementation")) from None
        try:
            return cls.load(self.router_path)
        except InputError as exc:
            raise self.error(f"router weights: {exc.problem}", ("router", "weights")) from None

    def build_crma(self, hidden_size: int) -> Any:
        """Instantiate the CRMA implementation for a model width and load the weights."""
        from crma_eval.api.registry import crma_module

        spec = self.manifest.crma
        if spec is None:
            raise self.error("checkpoint has no CRMA module", ("crma",))
        try:
            cls = crma_module(spec.implementation)
        except InputError as exc:
            raise self.error(exc.problem, ("crma", "implementation")) from None
        try:
            module = cls(hidden_size=hidden_size, **spec.config)
        except (TypeError, ValueError) as exc:
            raise self.error(f"cannot build CRMA module: {exc}", ("crma", "config")) from None
        self.check_finite(self.crma_path, ("crma", "weights"))
        try:
            module.load(self.crma_path)
        except Exception as exc:  # any loader failure is bad input, reported on the manifest line
            raise self.error(f"cannot load CRMA weights: {exc}", ("crma", "weights")) from None
        return module

    def check_finite(self, path: Path | None, loc: tuple[str | int, ...]) -> None:
        """InputError on the manifest line `loc` when a tensor of `path` holds NaN or inf
        (imports torch; called where weights are loaded)."""
        from crma_eval.checkpoint.weights import first_nonfinite

        if path is None:
            return
        try:
            name = first_nonfinite(path)
        except Exception as exc:  # safetensors raises its own error types for bad files
            raise self.error(
                f"{path.name} is not a readable safetensors file ({exc})", loc
            ) from None
        if name is not None:
            raise self.error(f"{path.name}: tensor {name!r} holds NaN or inf values", loc)

    def check_files(self) -> None:
        """Check every referenced file exists, stays inside and is safetensors (not pickle)."""
        _ = self.base_model
        for domain in self.manifest.adapters:
            self._check_adapter(domain)
        for part, path in (("crma", self.crma_path), ("router", self.router_path)):
            if path is not None:
                self._check_safetensors(path, (part, "weights"))
        log = self.spectral_log_path
        if log is not None and not log.is_file():
            raise self.error(f"spectral log {log.name} not found", ("logs", "spectral"))

    def _check_adapter(self, domain: str) -> None:
        from crma_eval.checkpoint.adapter_config import AdapterConfigError, read_adapter_config

        folder = self.adapter_path(domain)
        loc = ("adapters", domain)
        if folder is None or not folder.is_dir():
            raise self.error(f"adapter folder {self.manifest.adapters[domain]!r} not found", loc)
        config, weights = (self.adapter_file(domain, name) for name in ADAPTER_FILES)
        if not config.is_file():
            raise self.error(f"adapter folder has no {ADAPTER_FILES[0]}", loc)
        try:
            read_adapter_config(config)
        except AdapterConfigError as exc:
            raise self.error(str(exc), loc) from None
        self._check_safetensors(weights, loc)

    def _check_safetensors(self, path: Path, loc: tuple[str | int, ...]) -> None:
        pickles = [path] if path.suffix in PICKLE_SUFFIXES else []
        pickles += [path.with_suffix(s) for s in PICKLE_SUFFIXES if path.with_suffix(s).is_file()]
        if pickles and not (path.suffix == ".safetensors" and path.is_file()):
            raise self.error(
                f"pickle-only weights ({pickles[-1].name}) are not loaded; convert to safetensors",
                loc,
            )
        if not path.is_file():
            raise self.error(f"weights file {path.name} not found", loc)
        try:
            with safe_open(str(path), framework="numpy"):
                pass
        except Exception as exc:  # safetensors raises its own error types for bad headers
            raise self.error(
                f"{path.name} is not a readable safetensors file ({exc})", loc
            ) from None


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Load and validate a checkpoint folder (or its manifest file)."""
    path = Path(path)
    manifest_path = path / MANIFEST_NAME if path.is_dir() else path
    if not manifest_path.is_file():
        raise InputError(f"checkpoint manifest {MANIFEST_NAME} not found", path=manifest_path)
    if (
        manifest_path.is_symlink()
        and manifest_path.resolve().parent != manifest_path.parent.resolve()
    ):
        raise InputError("manifest is a symlink out of the checkpoint folder", path=manifest_path)
    doc = YamlDoc(manifest_path)
    checkpoint = Checkpoint(doc, doc.validate(Manifest))
    checkpoint.check_files()
    return checkpoint


def write_manifest(folder: str | Path, manifest: dict[str, Any]) -> Path:
    """Validate `manifest` and write it as `<folder>/crma_checkpoint.yaml` (atomically)."""
    try:
        Manifest.model_validate(manifest)
    except ValidationError as exc:
        raise ValueError(f"invalid checkpoint manifest: {exc}") from None
    text = yaml.safe_dump(manifest, sort_keys=False, allow_unicode=True)
    return write_text_atomic(Path(folder) / MANIFEST_NAME, text)
