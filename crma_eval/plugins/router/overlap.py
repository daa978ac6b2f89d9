"""Domain overlap before any labels: how close the domains' centroids are in the router's own
embedding space, and how far each domain's texts sit from their nearest rival centroid."""

from __future__ import annotations

from typing import Any

import numpy as np

from crma_eval.api import Table

QUANTILES = (0.05, 0.25, 0.5)


def _unit(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=-1, keepdims=True)
    return x / np.where(norms == 0, 1.0, norms)


def domain_overlap(embeddings: dict[str, np.ndarray]) -> dict[str, Any]:
    """Centroid cosine matrix and per-domain nearest-rival margins.

    embeddings: domain -> [n_i, hidden] router embeddings of that domain's texts (>= 2 domains).
    A text's margin = cos(text, own centroid) - max cos(text, another centroid); a negative
    margin means the centroid router would send it to the rival. Centroids are means of the
    L2-normalised rows (as the centroid router builds them). Pairs are ranked by the share of
    A's texts closer to B's centroid than to A's ("which pairs will be confused").
    Raises ValueError with fewer than two domains or an empty one.
    """
    domains = list(embeddings)
    if len(domains) < 2 or any(len(embeddings[d]) == 0 for d in domains):
        raise ValueError("domain overlap needs at least two domains with texts")
    rows = {d: _unit(np.asarray(embeddings[d], dtype=np.float64)) for d in domains}
    centroids = _unit(np.stack([rows[d].mean(axis=0) for d in domains]))
    similarity = centroids @ centroids.T
    per_domain: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    for i, d in enumerate(domains):
        sims = rows[d] @ centroids.T
        rival_sims = np.delete(sims, i, axis=1)
        rival_idx = [j for j in range(len(domains)) if j != i]
        margin = sims[:, i] - rival_sims.max(axis=1)
        nearest = domains[rival_idx[int(np.argmax(similarity[i, rival_idx]))]]
        per_domain.append(
            {
                "domain": d,
                "n": int(margin.size),
                "nearest_rival": nearest,
                "centroid_cosine": float(similarity[i, domains.index(nearest)]),
                "margin_mean": float(margin.mean()),
                **{f"margin_q{int(q * 100):02d}": float(np.quantile(margin, q)) for q in QUANTILES},
                "share_negative": float((margin < 0).mean()),
            }
        )
        for k, j in enumerate(rival_idx):
            confused = sims[:, j] > sims[:, i]
            pairs.append(
                {
                    "domain": d,
                    "rival": domains[j],
                    "centroid_cosine": float(similarity[i, j]),
                    "share_closer_to_rival": float(confused.mean()),
                    "mean_gap": float((sims[:, i] - rival_sims[:, k]).mean()),
                }
            )
    pairs.sort(key=lambda p: (-p["share_closer_to_rival"], -p["centroid_cosine"]))
    return {
        "domains": domains,
        "similarity": similarity.tolist(),
        "per_domain": per_domain,
        "pairs": pairs,
    }


def overlap_tables(overlap: dict[str, Any], top: int = 10) -> list[Table]:
    """Report tables: per-domain margins and the pairs most likely to be confused."""
    margins = Table(
        columns=["domain", "n", "nearest rival", "centroid cos", "margin q05", "margin median",
                 "share < 0"],
        rows=[
            [r["domain"], r["n"], r["nearest_rival"], round(r["centroid_cosine"], 4),
             round(r["margin_q05"], 4), round(r["margin_q50"], 4),
             f"{100 * r['share_negative']:.1f}%"]
            for r in overlap["per_domain"]
        ],
        caption="Nearest-rival margins (cosine to own centroid minus best rival centroid)",
    )  # fmt: skip
    pairs = Table(
        columns=["domain", "rival", "centroid cos", "closer to rival"],
        rows=[
            [p["domain"], p["rival"], round(p["centroid_cosine"], 4),
             f"{100 * p['share_closer_to_rival']:.1f}%"]
            for p in overlap["pairs"][:top]
        ],
        caption="Which pairs will be confused (share of a domain's texts nearer the rival)",
    )  # fmt: skip
    return [margins, pairs]


def checkpoint_overlap(
    checkpoint_dir: str, texts: dict[str, list[str]], base_model: str | None = None
) -> dict[str, Any]:
    """domain_overlap of `texts` embedded by a checkpoint's router encoder (its base model's
    mean-pooled last hidden state; `base_model` overrides the manifest's). Imports torch."""
    from crma_eval import EngineSession, load_checkpoint

    ck = load_checkpoint(checkpoint_dir)
    session = EngineSession(base_model or ck.manifest.base_model)
    return domain_overlap({d: session.embed(t) for d, t in texts.items()})
