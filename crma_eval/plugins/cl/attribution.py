"""What the modular architecture lets the matrix attribute, per condition with an oracle-routed
and a routed arm both measured after every phase.

Shared-module drift (oracle routing: every query gets its own domain's adapter, so a change can
only come from what the domains share): D[k, j] = R_oracle[k, j] − R_oracle[j, j] for k > j;
its mean over the strict lower triangle is Díaz-Rodríguez's BWT of the oracle arm.
Routing error: E[i, j] = R_routed[i, j] − R_oracle[i, j] on the cells both measured (j ≤ i);
negative means routing costs accuracy. Per phase, the router plugin's oracle gap (oracle − routed
on paired items) splits it into misrouted and correctly routed items
(crma_eval.plugins.router.oracle_gap). Intervals: the same item-cluster bootstrap draws as the
matrices, so both arms are resampled together.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crma_eval.plugins.base import AnalyzeOptions
from crma_eval.plugins.cl.intervals import percentile
from crma_eval.plugins.cl.matrix import nullable, record_phases
from crma_eval.plugins.cl.options import CLOptions

ROUTER_STATS = ("n", "gap", "gap_routing", "gap_model", "misrouted")


def _arms(qa: pd.DataFrame, opts: CLOptions) -> tuple[str, str | None]:
    from crma_eval.plugins.router.oracle_gap import default_routed_arm

    return opts.oracle_arm or "oracle", opts.routed_arm or default_routed_arm(qa)


def _lower(matrix: np.ndarray, strict: bool) -> np.ndarray:
    """Mean over the lower triangle of rows 1 … T (strict: below the diagonal), NaN-ignoring.

    matrix: [..., T+1, T].
    """
    T = matrix.shape[-1]
    rows, cols = np.tril_indices(T, k=-1 if strict else 0)
    with np.errstate(invalid="ignore"):
        values = matrix[..., rows + 1, cols]
        return np.nanmean(values, axis=-1) if values.shape[-1] else np.full(values.shape[:-1], 0.0)


def _shared_drift(cells: np.ndarray) -> np.ndarray:
    """D [..., T+1, T]: R[k, j] − R[j, j] below the diagonal, NaN elsewhere."""
    T = cells.shape[-1]
    diag = cells[..., np.arange(1, T + 1), np.arange(T)]
    out = cells - diag[..., None, :]
    mask = np.zeros((T + 1, T), dtype=bool)
    rows, cols = np.tril_indices(T, k=-1)
    mask[rows + 1, cols] = True
    return np.where(mask, out, np.nan)


def _not_lower(T: int) -> np.ndarray:
    """[T+1, T] True outside the lower triangle of rows 1 … T (row 0 and cells c ≥ r)."""
    return np.arange(T)[None, :] >= np.arange(T + 1)[:, None]


def _router_split(
    qa: pd.DataFrame, condition: str, routed: str, oracle: str, options: AnalyzeOptions
) -> list[dict[str, Any]]:
    """Per phase, the router plugin's oracle-gap attribution on paired items of `condition`."""
    from crma_eval.plugins.router.oracle_gap import attribution, paired_items

    frame = qa.assign(_phase=record_phases(qa))
    if "condition" in frame.columns:
        frame = frame[frame["condition"].astype(str) == condition]
    out = []
    for phase, rows in frame.groupby("_phase", sort=True):
        pairs = paired_items(rows.drop(columns="_phase"), routed, oracle)
        if len(pairs) >= 2:
            stats = attribution(pairs, options)
            out.append({"phase": int(phase), **{k: stats[k] for k in ROUTER_STATS}})
    return out


def attributions(
    series: list[dict[str, Any]],
    computed: dict[tuple[str, str], Any],
    qa: pd.DataFrame,
    opts: CLOptions,
    options: AnalyzeOptions,
) -> list[dict[str, Any]]:
    """One entry per condition with both arms: matrices D and E, their means and intervals."""
    oracle, routed = _arms(qa, opts)
    if routed is None:
        return []
    found = []
    by_key = {(s["condition"], s["arm"]): s for s in series if s["source"] == "qa"}
    for (condition, arm), entry in by_key.items():
        other = by_key.get((condition, routed))
        if arm != oracle or other is None or other["domains"] != entry["domains"]:
            continue
        o, r = computed[(condition, oracle)], computed[(condition, routed)]
        cells_o, cells_r = o.R.mean(axis=0), r.R.mean(axis=0)
        drift, error = _shared_drift(cells_o), cells_r - cells_o
        error[_not_lower(error.shape[-1])] = np.nan  # row 0 (base) and cells before training
        metrics = {
            "shared_drift": float(_lower(drift, strict=True)),
            "routing_error": float(_lower(error, strict=False)),
        }
        if o.cells_b is not None and r.cells_b is not None:
            lows = percentile(
                _lower(_shared_drift(o.cells_b), strict=True)[:, None], options.confidence
            )
            metrics |= {
                "shared_drift_ci_low": float(lows[0][0]),
                "shared_drift_ci_high": float(lows[1][0]),
            }
            err_b = r.cells_b - o.cells_b
            err_b[:, _not_lower(error.shape[-1])] = np.nan
            lows = percentile(_lower(err_b, strict=False)[:, None], options.confidence)
            metrics |= {
                "routing_error_ci_low": float(lows[0][0]),
                "routing_error_ci_high": float(lows[1][0]),
            }
        found.append(
            {
                "condition": condition,
                "oracle_arm": oracle,
                "routed_arm": routed,
                "domains": entry["domains"],
                "shared_drift": nullable(drift),
                "routing_error": nullable(error),
                "metrics": {k: v for k, v in metrics.items() if not np.isnan(v)},
                "router_split": _router_split(qa, condition, routed, oracle, options),
            }
        )
    return found
