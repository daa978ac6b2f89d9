"""Files the package reads at run time, found through `importlib.resources` (never `__file__`).

The top-level `tasks/` folder of the repository is the source; the build maps it into the wheel as
the package `crma_eval.tasks` (pyproject.toml `package-dir`), so an installed package, an editable
install and a clone all find the same files:

* `tasks_dir()`: the folder to give lm-eval's `--include_path` (holds `gsm8k_crma/`);
  `crma-eval tasks-path` prints it.
* `ood_file()`: the router stress suite's general-knowledge OOD questions (JSONL).
* `guides()` / `guide(name)`: the user guides of the top-level `docs/` folder, installed as
  `crma_eval.docs` (`crma-eval docs` lists and prints them).

Raises `InputError` when the package was installed without its data (e.g. a zipped install that
lm-eval could not read anyway).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from crma_eval.errors import InputError

TASKS_PACKAGE = "crma_eval.tasks"
DOCS_PACKAGE = "crma_eval.docs"


def _installed(package: str, *parts: str) -> Path:
    resource = files(package).joinpath(*parts)
    path = Path(str(resource))
    if not path.exists():
        where = "/".join((package.replace(".", "/"), *parts))
        raise InputError(
            f"{where}: file not found in the installed crma_eval package "
            "(reinstall it: pip install --force-reinstall crma-eval)"
        )
    return path


def tasks_dir() -> Path:
    """The installed lm-eval task folder (`gsm8k_crma/` inside), for `--include_path`."""
    return _installed(TASKS_PACKAGE)


def ood_file() -> Path:
    """The router stress suite's out-of-distribution question set (JSONL, `question` per row)."""
    return _installed(TASKS_PACKAGE, "router_stress", "ood.jsonl")


def guides() -> dict[str, Path]:
    """The installed user guides: name (file stem, e.g. "bench") -> path of its Markdown file."""
    folder = _installed(DOCS_PACKAGE)
    return {p.stem: p for p in sorted(folder.glob("*.md"))}


def guide(name: str) -> Path:
    """The Markdown file of one guide (`name` with or without `.md`).

    Raises InputError naming the guides there are when no guide has that name."""
    found = guides()
    stem = name.removesuffix(".md")
    if stem not in found:
        known = ", ".join(found) or "none installed"
        raise InputError(f"no guide named {name!r} (guides: {known}); list them: crma-eval docs")
    return found[stem]
