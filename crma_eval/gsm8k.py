"""Stable import path of the corrected GSM8K scorer, which lives in the bench plugin."""

from crma_eval.plugins.bench.gsm8k import answers_equal, extract_final_answer

__all__ = ["answers_equal", "extract_final_answer"]
