"""Validation up front: CRMA arms on checkpoints without CRMA, generation length vs context,
relative base_model, and spectral log phases mapped to domain names."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import tinymodel as tm
import yaml

from crma_eval.checkpoint import MANIFEST_NAME, load_checkpoint
from crma_eval.collect import CollectContext
from crma_eval.config import load_config
from crma_eval.errors import InputError
from crma_eval.plugins.qa.collect import QACollector
from crma_eval.plugins.spectral.collect import read_spectral_log


def _config(tmp_path: Path, body: dict) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    return path


def _line(path: Path, text: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


@pytest.fixture
def plain_ckpt(tmp_path: Path) -> Path:
    """A final checkpoint of a LoRA-only condition: no crma: block."""
    world = tm.world()
    folder = Path(shutil.copytree(world.checkpoints["naive-seed0-phase3"], tmp_path / "ck"))
    manifest = yaml.safe_load((folder / MANIFEST_NAME).read_text())
    del manifest["crma"]
    (folder / MANIFEST_NAME).write_text(yaml.safe_dump(manifest, sort_keys=False))
    return folder


@pytest.mark.slow
def test_crma_arm_on_checkpoint_without_crma_is_refused_at_the_arm_line(
    tmp_path: Path, plain_ckpt: Path
) -> None:
    arms = [{"name": "off", "crma": False}, {"name": "on", "crma": True}]
    path = _config(tmp_path, {"checkpoints": [str(plain_ckpt)], "arms": arms})
    config = load_config(path)
    ck = load_checkpoint(plain_ckpt)
    ctx = CollectContext(config, [ck], run_dir=None)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="arm 'on' has crma: true") as info:
        QACollector().units(ctx)
    assert info.value.path == str(path)
    assert info.value.line == _line(path, "crma: true")
    assert info.value.field == "arms.1.crma"


@pytest.mark.slow
def test_crma_arm_limited_by_conditions_is_fine(tmp_path: Path, plain_ckpt: Path) -> None:
    arms = [{"name": "off", "crma": False}, {"name": "on", "conditions": ["modular"]}]
    config = load_config(_config(tmp_path, {"checkpoints": [str(plain_ckpt)], "arms": arms}))
    config.check_arms([load_checkpoint(plain_ckpt)])


@pytest.mark.parametrize(("new", "length"), [(64, 64), (100, 64)])
def test_max_new_tokens_must_leave_room_for_the_prompt(
    tmp_path: Path, new: int, length: int
) -> None:
    path = _config(
        tmp_path, {"engine": {"max_length": length}, "generation": {"max_new_tokens": new}}
    )
    with pytest.raises(InputError, match="max_new_tokens") as info:
        load_config(path)
    assert info.value.path == str(path) and info.value.line is not None
    assert info.value.line >= _line(path, "generation:")
    ok = _config(tmp_path, {"engine": {"max_length": length}, "generation": {"max_new_tokens": 8}})
    assert load_config(ok).generation.max_new_tokens == 8


def test_relative_base_model_is_taken_from_the_config_folder(tmp_path: Path) -> None:
    folder = tmp_path / "cfg"
    (folder / "models" / "base").mkdir(parents=True)
    config = load_config(_config(folder, {"base_model": "models/base"}))
    assert config.base_model == str((folder / "models" / "base").resolve())
    assert load_config(_config(folder, {"base_model": "org/model"})).base_model == "org/model"
    path = _config(folder, {"base_model": "./missing"})
    with pytest.raises(InputError, match="not found") as info:
        load_config(path)
    assert info.value.line == _line(path, "base_model")


def test_spectral_log_phase_numbers_become_domain_names(tmp_path: Path) -> None:
    path = tmp_path / "spectral.csv"
    path.write_text(
        "step,phase,module,spectral_norm\n0,0,m,1.0\n5,1,m,1.0\n9,2,m,1.0\n12,b,m,1.0\n"
    )
    records = read_spectral_log(path, ["a", "b"])
    assert [r["phase"] for r in records] == ["initial", "a", "b", "b"]
    jsonl = tmp_path / "spectral.jsonl"
    jsonl.write_text('{"kind":"spectral","step":1,"phase":2,"module":"m","spectral_norm":1.0}\n')
    assert read_spectral_log(jsonl, ["a", "b"])[0]["phase"] == "b"
    path.write_text("step,phase,module,spectral_norm\n0,1,m,1.0\n5,3,m,1.0\n")
    with pytest.raises(InputError, match="phase '3'") as info:
        read_spectral_log(path, ["a", "b"])
    assert info.value.line == 3 and info.value.field == "phase"


@pytest.mark.slow
def test_bench_arm_with_crma_on_checkpoint_without_crma(tmp_path: Path, plain_ckpt: Path) -> None:
    from crma_eval.plugins.bench.collect import BenchCollector

    arms = [{"name": "after", "checkpoint": "final", "crma": True, "adapter": "last"}]
    body = {"checkpoints": [str(plain_ckpt)], "options": {"bench": {"tasks": ["t"], "arms": arms}}}
    path = _config(tmp_path, body)
    ctx = CollectContext(load_config(path), [load_checkpoint(plain_ckpt)], run_dir=None)  # type: ignore[arg-type]
    with pytest.raises(InputError, match="asks for CRMA") as info:
        BenchCollector().units(ctx)
    assert info.value.line == _line(path, "crma: true")
