"""lm-eval task folders and data files of crma_eval.

Installed as the package `crma_eval.tasks` (see pyproject.toml `package-dir`); found at run time
through `crma_eval.resources`. `crma-eval tasks-path` prints the installed folder for lm-eval's
`--include_path`.
"""
