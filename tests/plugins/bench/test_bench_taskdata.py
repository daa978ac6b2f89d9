"""Relative paths: a task YAML's data paths are read from the YAML's folder, a run config's task
YAML paths from the config's folder; both whatever the working directory."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _bench_fixtures import StandInSession, tiny_model

from crma_eval.collect import CollectContext, run_units
from crma_eval.config import load_config
from crma_eval.plugins.bench.collect import BenchCollector
from crma_eval.plugins.bench.lmeval import TaskLoadError, load_tasks
from crma_eval.plugins.bench.taskdata import HINT, resolve_data_paths
from crma_eval.records import load_records
from crma_eval.store import RunDir

ROWS = [
    {"q": "Is one more than two?", "choices": ["yes", "no"], "label": 1},
    {"q": "Is the sky blue?", "choices": ["yes", "no"], "label": 0},
    {"q": "Are cats birds?", "choices": ["yes", "no"], "label": 1},
]
TASK = (
    "task: {name}\ndataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\n"
    "test_split: test\noutput_type: multiple_choice\ndoc_to_text: '{{{{q}}}} Answer:'\n"
    "doc_to_choice: '{{{{choices}}}}'\ndoc_to_target: label\nmetric_list:\n"
    "  - metric: acc\n    aggregation: mean\n    higher_is_better: true\n"
)


def _task(folder: Path, name: str, data: str = "data/docs.jsonl") -> Path:
    """A task YAML under folder whose data file is `data` relative to it."""
    target = folder / data
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("".join(json.dumps(r) + "\n" for r in ROWS), encoding="utf-8")
    path = folder / f"{name}.yaml"
    path.write_text(TASK.format(name=name, data=data), encoding="utf-8")
    return path


@pytest.fixture
def elsewhere(tmp_path, monkeypatch):
    """Run from a folder that is neither the task's nor the config's."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    return cwd


@pytest.mark.slow  # lm-eval with torch / a real tiny model
def test_data_files_are_read_from_the_task_yaml_folder(tmp_path, elsewhere):
    path = _task(tmp_path / "mytasks", "rel_docs")
    loaded, _ = load_tasks(str(path), ())
    assert [dict(d) for d in loaded["tasks"]["rel_docs"].eval_docs] == ROWS
    (path.parent / "data" / "docs.jsonl").unlink()
    with pytest.raises(TaskLoadError) as info:
        load_tasks(str(path), ())
    missing = path.parent / "data" / "docs.jsonl"
    assert str(info.value).endswith(f"file not found: {missing} ({HINT})")
    assert "offline" not in str(info.value)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"dataset_path": "json", "dataset_kwargs": {"data_files": "a.jsonl"}},
         {"data_files": "{f}/a.jsonl"}),
        ({"dataset_path": "csv", "dataset_kwargs": {"data_files": ["a.jsonl", "/abs/b.csv"]}},
         {"data_files": ["{f}/a.jsonl", "/abs/b.csv"]}),
        ({"dataset_path": "json", "dataset_kwargs": {"data_files": {"test": "d/*.jsonl",
          "train": ["a.jsonl", "https://x.org/t.jsonl"]}}},
         {"data_files": {"test": "{f}/d/*.jsonl", "train": ["{f}/a.jsonl",
          "https://x.org/t.jsonl"]}}),
        ({"dataset_path": "json", "dataset_kwargs": {"data_dir": "d", "data_files": "x.jsonl"}},
         {"data_dir": "{f}/d", "data_files": "x.jsonl"}),  # datasets reads data_files in data_dir
        ({"dataset_path": "org/hub_set", "dataset_kwargs": {"data_files": "a.jsonl"}},
         {"data_files": "a.jsonl"}),  # inside the hub repository
    ],
)  # fmt: skip
def test_relative_paths_by_where_datasets_reads_them(tmp_path, config, expected):
    for name in ("a.jsonl", "d/x.jsonl"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("{}\n", encoding="utf-8")
    out = resolve_data_paths(config, tmp_path)
    text = json.dumps(expected).replace("{f}", str(tmp_path))
    assert out["dataset_kwargs"] == json.loads(text)
    assert config["dataset_kwargs"] != out["dataset_kwargs"] or "org/" in config["dataset_path"]


def test_a_local_dataset_folder_is_read_from_the_yaml_folder(tmp_path):
    (tmp_path / "my_set").mkdir()
    out = resolve_data_paths({"dataset_path": "./my_set", "dataset_kwargs": {"data_files": "t"}},
                             tmp_path)  # fmt: skip
    assert out == {"dataset_path": str(tmp_path / "my_set"), "dataset_kwargs": {"data_files": "t"}}
    with pytest.raises(FileNotFoundError, match="read from the YAML's folder"):
        resolve_data_paths({"dataset_path": "../nowhere"}, tmp_path)


@pytest.mark.slow  # lm-eval with torch / a real tiny model
def test_run_config_task_paths_are_read_from_the_config_folder(tmp_path, elsewhere):
    project = tmp_path / "project"
    _task(project / "my_tasks", "rel_mc")
    (project / "run.yaml").write_text(
        "name: rel\nbase_model: tiny-llama-in-process\nplugins: [bench]\noptions:\n  bench:\n"
        "    tasks: [my_tasks/rel_mc.yaml]\n    cache: false\n    offline: true\n"
        "    arms: [{name: base, checkpoint: none, crma: false, adapter: none}]\n",
        encoding="utf-8",
    )
    config = load_config(Path("../project/run.yaml"))
    session = StandInSession(*tiny_model())
    run_dir = RunDir(tmp_path / "run").ensure()
    ctx = CollectContext(config, [], run_dir, session_factory=lambda: session)
    assert run_units({"bench": BenchCollector()}, ctx) == []
    frame = load_records(run_dir.record_files())["bench"]
    assert set(frame["task"]) == {"rel_mc"}
    assert sorted(frame["doc_id"]) == ["0", "1", "2"]
    targets = dict(zip(frame["doc_id"], frame["target"], strict=True))
    assert targets == {str(i): r["choices"][r["label"]] for i, r in enumerate(ROWS)}
