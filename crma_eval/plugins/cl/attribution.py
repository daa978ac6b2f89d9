"""What the modular architecture lets the matrix attribute, per condition with an oracle-routed
and a routed arm both measured after every phase.

Shared-module drift (oracle routing: every query gets its own domain's adapter, so a change can
only come from what the domains share): D[k, j] = R_oracle[k, j] − R_oracle[j, j] for k > j;
its mean over the strict lower triangle is Díaz-Rodríguez's BWT of the oracle arm.
Routing error: E[i, j] = R_routed[i, j] − R_oracle[i, j] on the cells both measured (j ≤ i);
negative means routing costs accuracy. Per phase, the router plugin's oracle gap (oracle − routed
on paired items) splits it into misrouted and correctly routed items
(as crma_eval.plugins.router.oracle_gap computes it). Intervals: the same item-cluster
bootstrap draws as the matrices, so both arms are resampled together.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from crma_eval.api import AnalyzeOptions
from crma_eval.plugins.cl.intervals import percentile
from crma_eval.plugins.cl.matrix import nullable, record_phases
from crma_eval.plugins.cl.options import CLOptions


def _arms(qa: pd.DataFrame, opts: CLOptions) -> tuple[str, str | None]:
    """(oracle arm, routed arm): the options, else `oracle` and the one arm with routed domains."""
    routed = opts.routed_arm
    if routed is None and "routed_domain" in qa.columns:
        arms = qa.loc[qa["routed_domain"].notna(), "arm"].unique()
        routed = str(arms[0]) if len(arms) == 1 else None
    return opts.oracle_arm or "oracle", routed


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
    """Per phase, the oracle gap (oracle − routed on paired items) split as the router plugin's
    oracle gap does: gap_routing = mean(m (o − r)), gap_model = mean((1 − m)(o − r)), m =
    misrouted (abstained or another domain)."""
    frame = qa.assign(_phase=record_phases(qa))
    if "condition" in frame.columns:
        frame = frame[frame["condition"].astype(str) == condition]
    keys = [k for k in ("domain", "item_id", "seed", "checkpoint") if k in frame.columns]
    routed_domain = frame["routed_domain"] if "routed_domain" in frame.columns else None
    frame = frame.assign(routed_domain=routed_domain)
    r = frame[frame["arm"] == routed][[*keys, "_phase", "correct", "routed_domain"]]
    o = frame[frame["arm"] == oracle][[*keys, "correct"]]
    pairs = r.merge(o, on=keys, suffixes=("_r", "_o"))
    out = []
    for phase, rows in pairs.groupby("_phase", sort=True):
        if len(rows) < 2:
            continue
        diff = rows["correct_o"].astype(float) - rows["correct_r"].astype(float)
        m = (rows["routed_domain"].isna() | (rows["routed_domain"] != rows["domain"])).to_numpy()
        out.append(
            {
                "phase": int(phase), "n": float(len(rows)), "gap": float(diff.mean()),
                "gap_routing": float((diff * m).mean()), "gap_model": float((diff * ~m).mean()),
                "misrouted": float(m.mean()),
            }
        )  # fmt: skip
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
