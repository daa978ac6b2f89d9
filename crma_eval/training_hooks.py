"""Stable import path of the spectral-log training hooks, which live in the spectral plugin."""

from crma_eval.plugins.spectral.hooks import SpectralLogCallback, log_spectral

__all__ = ["SpectralLogCallback", "log_spectral"]
