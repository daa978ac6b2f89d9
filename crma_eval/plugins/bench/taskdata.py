"""Relative data paths in a task YAML are read from the YAML's folder, as lm-eval reads `include:`.

lm-eval hands `dataset_path` and `dataset_kwargs` to `datasets.load_dataset` unchanged, so a
relative `data_files` entry is read from the working directory: a task runs from one folder only.
Here each task's configuration, as lm-eval's TaskFactory loads it from its YAML
(`_load_full_config`), has its relative local paths made absolute against that YAML's folder:
- `dataset_path` that is a local folder (`./x`, `../x`, or a folder beside the YAML): absolute
  (its `data_files`/`data_dir` stay relative to it, as `datasets` reads them);
- with a packaged builder (`json`, `csv`, `parquet`, `text`...): `dataset_kwargs.data_dir`, else
  each `data_files` entry (a string, a list, or split -> string or list; globs allowed);
- hub datasets, URLs (`scheme://`) and absolute paths are left alone.
A file that is named but missing raises MissingDataFile ("file not found: <path> (relative paths
in a task YAML are read from the YAML's folder)").
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

HINT = "relative paths in a task YAML are read from the YAML's folder"
GLOB = re.compile(r"[*?\[]")


class MissingDataFile(FileNotFoundError):
    """A relative data path of a task YAML names nothing beside the YAML."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"{path} ({HINT})")


def _packaged() -> frozenset[str]:
    """`datasets`' packaged builders (json, csv, parquet, text, ...)."""
    try:
        from datasets.packaged_modules import _PACKAGED_DATASETS_MODULES
    except ImportError:  # a future datasets without the table: the common ones
        return frozenset({"json", "csv", "parquet", "text", "arrow", "pandas"})
    return frozenset(_PACKAGED_DATASETS_MODULES)


def _local(value: str) -> bool:
    """A relative filesystem path (no URL, no absolute path)."""
    return "://" not in value and not Path(value).expanduser().is_absolute()


def _absolute(value: str, folder: Path) -> str:
    """`value` read from `folder`; a missing file (not a glob) is MissingDataFile."""
    path = folder / value
    if not GLOB.search(value) and not path.exists():
        raise MissingDataFile(path)
    return str(path)


def _files(value: Any, folder: Path) -> Any:
    """data_files with each relative path made absolute (str, list, or split -> str/list)."""
    if isinstance(value, str):
        return _absolute(value, folder) if _local(value) else value
    if isinstance(value, list):
        return [_files(v, folder) for v in value]
    if isinstance(value, dict):
        return {k: _files(v, folder) for k, v in value.items()}
    return value


def resolve_data_paths(config: dict[str, Any], folder: Path) -> dict[str, Any]:
    """A copy of a task configuration with its relative local data paths read from `folder`."""
    out = dict(config)
    path = out.get("dataset_path")
    if isinstance(path, str) and _local(path):
        explicit = path.startswith(("./", "../", ".\\", "..\\")) or path in {".", ".."}
        if explicit or (folder / path).is_dir():
            out["dataset_path"] = _absolute(path, folder)
            return out
    if path not in _packaged() or not isinstance(out.get("dataset_kwargs"), dict):
        return out
    kwargs = dict(out["dataset_kwargs"])
    data_dir = kwargs.get("data_dir")
    if isinstance(data_dir, str) and _local(data_dir):
        kwargs["data_dir"] = _absolute(data_dir, folder)
    elif "data_files" in kwargs and not isinstance(data_dir, str):
        kwargs["data_files"] = _files(kwargs["data_files"], folder)
    out["dataset_kwargs"] = kwargs
    return out


def yaml_relative_factory(meta: dict[str, Any] | None) -> Any:
    """lm-eval's TaskFactory whose task configurations read relative data paths from the folder
    of the YAML each task is loaded from (a group's overrides included)."""
    from lm_eval.tasks._factory import TaskFactory

    class YamlRelativeFactory(TaskFactory):
        """TaskFactory + resolve_data_paths against the entry's YAML folder."""

        def _load_full_config(self, entry: Any, overrides: Any = None) -> dict[str, Any]:
            config: dict[str, Any] = super()._load_full_config(entry, overrides)
            if entry.yaml_path is None:
                return config
            return resolve_data_paths(config, Path(entry.yaml_path).resolve().parent)

    return YamlRelativeFactory(meta=meta)
