"""Catalogue entries (crma_eval.api.catalogue) of the spectral plugin's metrics: the unit is a
logged step of one CRMA module."""

from __future__ import annotations

from crma_eval.api import MetricInfo, describe

PLUGIN = "spectral"
DEVIATION = "largest |spectral norm − 1| of the mixing matrix"
ERRORS = {
    "max_row_sum_err": "largest row-sum error of the doubly stochastic matrix",
    "max_col_sum_err": "largest column-sum error of the doubly stochastic matrix",
}


def spectral_info(metrics: dict[str, float]) -> dict[str, MetricInfo]:
    """Entries of `spectral.<all|module>[.<phase>].{n, max_dev, n_over_tol, max_*_sum_err}`."""
    out: dict[str, MetricInfo] = {}
    prefixes = {m.rsplit(".", 1)[0] for m in metrics if m.endswith(".max_dev")}
    for prefix in sorted(prefixes):
        where = prefix.split(".", 1)[1].replace(".", ", phase ")
        n = metrics.get(f"{prefix}.n")
        out |= describe(
            [m for m in metrics if m.rsplit(".", 1)[-1] not in ERRORS], prefix, "max_dev",
            f"{DEVIATION}, {where}", unit="logged step", n=None if n is None else int(n),
            method="maximum over logged steps", scale="absolute deviation", direction="lower",
        )  # fmt: skip
        for stat, words in ERRORS.items():
            if f"{prefix}.{stat}" in metrics:
                out[f"{prefix}.{stat}"] = MetricInfo(
                    "estimate", f"{words}, {where}", unit="logged step",
                    n=None if n is None else int(n), method="maximum over logged steps",
                    scale="absolute deviation", direction="lower",
                )  # fmt: skip
    return out
