"""Packages of the wheel: crma_eval* plus the top-level tasks/ folder as `crma_eval.tasks`, the
docs/ folder (the user guides) as `crma_eval.docs` and the report's templates (data only, no
`__init__.py`) as `crma_eval.report.templates`.

Everything else is in pyproject.toml. `packages.find` cannot add a package that lives outside
crma_eval/, so the list is built here; `package-dir` in pyproject.toml maps it to tasks/.
"""

from setuptools import find_packages, setup

TASKS = ["crma_eval.tasks", "crma_eval.tasks.gsm8k_crma", "crma_eval.tasks.router_stress"]

DOCS = ["crma_eval.docs"]

DATA = ["crma_eval.report.templates"]

setup(packages=[*find_packages(include=["crma_eval*"]), *TASKS, *DOCS, *DATA])
