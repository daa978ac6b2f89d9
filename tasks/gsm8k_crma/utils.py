"""Hooks of the gsm8k_crma task: the corrected final-answer filter from crma_eval.

Needs crma_eval installed in the environment that runs lm_eval: `pip install -e .` from a clone of
the repository, or `pip install "git+<repository URL>"` (it is not on PyPI). Importing it also
registers the filter under the name `crma_gsm8k_final_answer` for other task YAMLs.
"""

from crma_eval.plugins.bench.gsm8k.filter import FinalAnswerFilter

__all__ = ["FinalAnswerFilter"]
