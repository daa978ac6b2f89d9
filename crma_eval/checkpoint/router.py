"""Centroid router: one unit-norm centroid per domain; a query goes to the most similar centroid.

Stored as safetensors: tensor `centroids` [n_domains, hidden], metadata `domains` (JSON list) and
optionally `threshold` (minimum cosine to answer; below it the router abstains, predicted None).
Pure numpy, so it can be built and inspected without torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

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
    """One routing decision: chosen domain (None = abstain), its cosine, gap to runner-up."""

    predicted: str | None
    score: float
    margin: float | None
    scores: dict[str, float]


class CentroidRouter:
    """Cosine-similarity classifier over per-domain centroids."""

    def __init__(
        self, centroids: np.ndarray, domains: list[str], threshold: float | None = None
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

    @classmethod
    def build(
        cls, embeddings: dict[str, np.ndarray], threshold: float | None = None
    ) -> CentroidRouter:
        """Centroid of each domain's L2-normalised embeddings [n_i, hidden] (domain order kept)."""
        domains = list(embeddings)
        centroids = np.stack([l2_normalise(embeddings[d]).mean(axis=0) for d in domains])
        return cls(centroids, domains, threshold)

    def route(self, embeddings: np.ndarray) -> list[Route]:
        """Route each embedding row [n, hidden]: max-cosine domain, score, margin, all scores."""
        sims = l2_normalise(np.atleast_2d(embeddings)) @ self.centroids.T
        routes = []
        for row in sims:
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
                )
            )
        return routes

    def save(self, path: str | Path) -> Path:
        """Write centroids and domain metadata as safetensors."""
        metadata = {"domains": json.dumps(self.domains)}
        if self.threshold is not None:
            metadata["threshold"] = repr(float(self.threshold))
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
        except (KeyError, ValueError, TypeError) as exc:
            raise InputError(f"bad router metadata ({exc})", path=path, field="domains") from None
        try:
            return cls(centroids, domains, threshold)
        except ValueError as exc:
            raise InputError(f"bad router weights ({exc})", path=path, field="centroids") from None
