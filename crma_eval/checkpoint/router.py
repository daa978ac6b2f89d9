"""Routers: the interface every router implements, and the built-in centroid router.

A router is registered in the entry-point group `crma_eval.routers` (the centroid router as
`centroid`) or named as `package.module:Class` in the manifest's `router.implementation`. It
implements the `Router` protocol: `load(path)` reads the file the manifest's `router.weights`
names, `domains` lists the domains it can pick, and `route(embeddings)` turns the encoder's
embeddings [n, hidden] (mean-pooled last hidden state of the bare base model) into one `Route`
per row.

Centroid router: one unit-norm centroid per domain; a query goes to the most similar centroid.
Stored as safetensors: tensor `centroids` [n_domains, hidden], metadata `domains` (JSON list),
optionally `threshold` (cosine cut-off: a query whose best cosine is below it is routed to no
adapter, predicted None) and `temperature` (softmax temperature of the confidence, fitted on a
calibration split). Pure numpy, so it can be built and inspected without torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from safetensors import safe_open
from safetensors.numpy import save_file

from crma_eval.errors import InputError


def l2_normalise(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float64)
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


@dataclass(frozen=True)
class Route:
    """One routing decision: chosen domain (None = abstain), its score (higher = more
    in-distribution; the centroid router's best cosine), gap to the runner-up, every domain's
    score, and the confidence in [0, 1] that the chosen (best) domain is right (None if the
    router has none)."""

    predicted: str | None
    score: float
    margin: float | None
    scores: dict[str, float]
    confidence: float | None = None


@runtime_checkable
class Router(Protocol):
    """What the harness needs from a router (see the module docstring)."""

    domains: list[str]

    @classmethod
    def load(cls, path: str | Path) -> Router:
        """Read the router from its file; bad content raises InputError naming the file."""
        ...

    def route(self, embeddings: np.ndarray) -> list[Route]:
        """One Route per row of embeddings [n, hidden]."""
        ...


def softmax_confidence(sims: np.ndarray, temperature: float) -> np.ndarray:
    """Largest softmax(sims / temperature) probability per row of sims [n, n_domains]."""
    z = sims / temperature
    z = z - z.max(axis=1, keepdims=True)
    p = np.exp(z)
    return np.asarray(p.max(axis=1) / p.sum(axis=1))


def fit_temperature(sims: np.ndarray, labels: np.ndarray) -> float:
    """Temperature T minimising the mean negative log-likelihood of softmax(sims / T) at the
    true labels (temperature scaling, Guo et al. 2017), by scipy's bounded scalar search over
    log T in [log 1e-4, log 10]. sims: [n, n_domains]; labels: int [n] column indices."""
    from scipy.optimize import minimize_scalar
    from scipy.special import logsumexp

    def nll(log_t: float) -> float:
        z = sims / np.exp(log_t)
        return float(np.mean(logsumexp(z, axis=1) - z[np.arange(len(labels)), labels]))

    res = minimize_scalar(nll, bounds=(np.log(1e-4), np.log(10.0)), method="bounded")
    return float(np.exp(res.x))


class CentroidRouter:
    """Cosine-similarity classifier over per-domain centroids."""

    def __init__(
        self,
        centroids: np.ndarray,
        domains: list[str],
        threshold: float | None = None,
        temperature: float | None = None,
    ) -> None:
        centroids = np.asarray(centroids, dtype=np.float64)
        if centroids.ndim != 2 or centroids.shape[0] != len(domains) or not domains:
            raise ValueError(f"centroids {centroids.shape} do not match {len(domains)} domains")
        if len(set(domains)) != len(domains):
            raise ValueError(f"repeated domains {domains}")
        if not np.isfinite(centroids).all():
            raise ValueError("centroids hold NaN or inf values")
        if threshold is not None and not np.isfinite(threshold):
            raise ValueError(f"threshold {threshold} is not finite")
        self.centroids = l2_normalise(centroids)
        self.domains = list(domains)
        self.threshold = threshold
        if temperature is not None and not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        self.temperature = temperature

    @classmethod
    def build(
        cls, embeddings: dict[str, np.ndarray], threshold: float | None = None
    ) -> CentroidRouter:
        """Centroid of each domain's L2-normalised embeddings [n_i, hidden] (domain order kept)."""
        domains = list(embeddings)
        centroids = np.stack([l2_normalise(embeddings[d]).mean(axis=0) for d in domains])
        return cls(centroids, domains, threshold)

    def similarities(self, embeddings: np.ndarray) -> np.ndarray:
        """Cosine of each embedding row [n, hidden] to each centroid: [n, n_domains]."""
        return l2_normalise(np.atleast_2d(embeddings)) @ self.centroids.T

    def calibrate(self, embeddings: dict[str, np.ndarray]) -> CentroidRouter:
        """This router with its temperature fitted on a calibration split (domain -> [n_i,
        hidden] embeddings of texts not used to build the centroids)."""
        sims = np.concatenate([self.similarities(e) for e in embeddings.values()])
        labels = np.concatenate(
            [np.full(len(e), self.domains.index(d)) for d, e in embeddings.items()]
        )
        temperature = fit_temperature(sims, labels)
        return CentroidRouter(self.centroids, self.domains, self.threshold, temperature)

    def route(self, embeddings: np.ndarray) -> list[Route]:
        """Route each embedding row [n, hidden]: max-cosine domain, score, margin, all scores,
        and (with a temperature) the softmax confidence of the best domain."""
        sims = self.similarities(embeddings)
        confidence = (
            softmax_confidence(sims, self.temperature)
            if self.temperature is not None
            else [None] * len(sims)
        )
        routes = []
        for row, conf in zip(sims, confidence, strict=True):
            order = np.argsort(-row, kind="stable")
            best = float(row[order[0]])
            margin = float(best - row[order[1]]) if len(order) > 1 else None
            abstain = self.threshold is not None and best < self.threshold
            routes.append(
                Route(
                    predicted=None if abstain else self.domains[order[0]],
                    score=best,
                    margin=margin,
                    scores={d: float(s) for d, s in zip(self.domains, row, strict=True)},
                    confidence=None if conf is None else float(conf),
                )
            )
        return routes

    def save(self, path: str | Path) -> Path:
        """Write centroids and domain metadata as safetensors."""
        metadata = {"domains": json.dumps(self.domains)}
        if self.threshold is not None:
            metadata["threshold"] = repr(float(self.threshold))
        if self.temperature is not None:
            metadata["temperature"] = repr(float(self.temperature))
        save_file({"centroids": self.centroids.astype(np.float32)}, str(path), metadata=metadata)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> CentroidRouter:
        """Read a router file; malformed content is an InputError naming the file."""
        try:
            with safe_open(str(path), framework="numpy") as fh:
                metadata = fh.metadata() or {}
                if "centroids" not in fh.keys():  # noqa: SIM118 (safe_open is not a dict)
                    raise InputError("no tensor 'centroids'", path=path)
                centroids = fh.get_tensor("centroids")
        except InputError:
            raise
        except Exception as exc:  # safetensors raises its own error types for bad files
            raise InputError(f"not a readable safetensors file ({exc})", path=path) from None
        try:
            domains = json.loads(metadata["domains"])
            if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
                raise ValueError("'domains' must be a JSON list of names")
            threshold = float(metadata["threshold"]) if "threshold" in metadata else None
            temperature = float(metadata["temperature"]) if "temperature" in metadata else None
        except (KeyError, ValueError, TypeError) as exc:
            raise InputError(f"bad router metadata ({exc})", path=path, field="domains") from None
        try:
            return cls(centroids, domains, threshold, temperature)
        except ValueError as exc:
            raise InputError(f"bad router weights ({exc})", path=path, field="centroids") from None
