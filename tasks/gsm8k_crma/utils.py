"""Hooks of the gsm8k_crma task: the corrected final-answer filter from crma_eval.

Needs crma_eval installed in the environment that runs lm_eval (README "Installing"); the installed
copy of this folder is printed by `crma-eval tasks-path`. Importing it also
registers the filter under the name `crma_gsm8k_final_answer` for other task YAMLs.
"""

from crma_eval.plugins.bench.gsm8k.filter import FinalAnswerFilter

__all__ = ["FinalAnswerFilter"]
