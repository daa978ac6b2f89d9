"""Untrusted checkpoints: files resolved inside, adapter configs validated (safe patterns),
weights finite at load, base model content fingerprint, CRMA named as package.module:Class."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import tinymodel as tm
import yaml
from safetensors.numpy import load_file as np_load
from safetensors.numpy import save_file as np_save
from safetensors.torch import load_file, save_file

from crma_eval.api.registry import crma_module
from crma_eval.checkpoint import MANIFEST_NAME, load_checkpoint
from crma_eval.checkpoint.basemodel import base_model_fingerprint
from crma_eval.config import EngineConfig
from crma_eval.engine import EngineSession
from crma_eval.errors import InputError

pytestmark = pytest.mark.slow  # real tiny models and checkpoints

EVIL = "(.*.*.*.*.*.*.*.*)*X"


@pytest.fixture(scope="module")
def world() -> tm.World:
    return tm.world()


@pytest.fixture
def ckpt(world: tm.World, tmp_path: Path) -> Path:
    return Path(shutil.copytree(world.checkpoints["modular-seed0-phase3"], tmp_path / "ck"))


@pytest.fixture(scope="module")
def session(world: tm.World) -> EngineSession:
    return EngineSession(str(world.base), EngineConfig(batch_size=4))


def _line_of(folder: Path, text: str) -> int:
    lines = (folder / MANIFEST_NAME).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def _expect(folder: Path, match: str, line_text: str) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        load_checkpoint(folder)
    assert info.value.path == str(folder / MANIFEST_NAME)
    assert info.value.line == _line_of(folder, line_text)
    return info.value


def _edit_config(folder: Path, change: Callable[[dict], object]) -> None:
    path = folder / "adapters" / "legal" / "adapter_config.json"
    config = json.loads(path.read_text())
    new = change(config)
    path.write_text(json.dumps(config if new is None else new))


# --- files stay inside the checkpoint, symlinks inside adapter folders too ---


@pytest.mark.parametrize("name", ["adapter_model.safetensors", "adapter_config.json"])
def test_symlink_inside_adapter_folder_pointing_out(ckpt: Path, tmp_path: Path, name: str) -> None:
    outside = tmp_path / "elsewhere" / name
    outside.parent.mkdir()
    shutil.copy(ckpt / "adapters" / "legal" / name, outside)
    (ckpt / "adapters" / "legal" / name).unlink()
    (ckpt / "adapters" / "legal" / name).symlink_to(outside)
    err = _expect(ckpt, "escapes the checkpoint folder", "legal:")
    assert err.field == "adapters.legal"


def test_symlink_inside_the_checkpoint_is_allowed(ckpt: Path) -> None:
    target = ckpt / "adapters" / "legal" / "adapter_config.json"
    shutil.move(target, ckpt / "legal_config.json")
    target.symlink_to(ckpt / "legal_config.json")
    assert load_checkpoint(ckpt).adapter_file("legal", "adapter_config.json").is_file()


def test_manifest_symlink_out_of_folder(ckpt: Path, tmp_path: Path) -> None:
    outside = tmp_path / "m.yaml"
    shutil.move(ckpt / MANIFEST_NAME, outside)
    (ckpt / MANIFEST_NAME).symlink_to(outside)
    with pytest.raises(InputError, match="symlink out of the checkpoint"):
        load_checkpoint(ckpt)


# --- adapter configs: types, JSON object, safe patterns ---


def test_catastrophic_pattern_refused_fast(ckpt: Path) -> None:
    _edit_config(ckpt, lambda c: c.update(target_modules=EVIL))
    started = time.perf_counter()
    err = _expect(ckpt, "unsafe", "legal:")
    assert time.perf_counter() - started < 5
    assert err.field == "adapters.legal" and "target_modules" in err.problem


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda c: c.update(target_modules="(["), "not a valid regular expression"),
        (lambda c: c.update(target_modules=[1, 2]), "target_modules"),
        (lambda c: c.update(target_modules=7), "target_modules"),
        (lambda c: c.update(r=True), "'r'"),
        (lambda c: c.update(r=0), "'r'"),
        (lambda c: c.update(lora_alpha="big"), "lora_alpha"),
        (lambda c: c.update(rank_pattern={"(a+)+": 4}), "rank_pattern"),
        (lambda c: c.update(layers_pattern="((x)*)*"), "layers_pattern"),
        (lambda c: [c], "expected an object"),
        (lambda c: "text", "expected an object"),
    ],
)
def test_malformed_adapter_config_is_exit_2(ckpt: Path, change: Callable, match: str) -> None:
    _edit_config(ckpt, change)
    assert _expect(ckpt, match, "legal:").field == "adapters.legal"


def test_unparsable_adapter_config(ckpt: Path) -> None:
    (ckpt / "adapters" / "legal" / "adapter_config.json").write_text("{not json")
    _expect(ckpt, "unreadable adapter_config.json", "legal:")


def test_regex_target_modules_still_load(ckpt: Path, session: EngineSession) -> None:
    _edit_config(ckpt, lambda c: c.update(target_modules=r".*\.(q_proj|v_proj)"))
    ck = load_checkpoint(ckpt)
    assert session.activate(ck, "legal", crma=False).domain == "legal"
    _edit_config(ckpt, lambda c: c.update(target_modules=r".*\.nothing_here"))
    ck = load_checkpoint(ckpt)
    with pytest.raises(InputError, match="matches no module"):
        session.activate(ck, "legal", crma=False)


def test_run_with_catastrophic_pattern_exits_2_through_cli(ckpt: Path, tmp_path: Path) -> None:
    _edit_config(ckpt, lambda c: c.update(target_modules=EVIL))
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({"checkpoints": [str(ckpt)], "plugins": ["spectral"]}))
    proc = subprocess.run(
        [sys.executable, "-m", "crma_eval", "run", str(config), "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert f"{MANIFEST_NAME}:{_line_of(ckpt, 'legal:')}" in lines[0]
    assert "adapters.legal" in lines[0]


# --- weights finite at load ---


def test_nan_in_adapter_weights(ckpt: Path, session: EngineSession) -> None:
    weights = ckpt / "adapters" / "finance" / "adapter_model.safetensors"
    state = load_file(weights)
    key = next(k for k in state if "lora_B" in k)
    state[key][0, 0] = float("nan")
    save_file(state, weights)
    ck = load_checkpoint(ckpt)
    with pytest.raises(InputError, match="NaN or inf") as info:
        session.activate(ck, "finance", crma=False)
    assert info.value.line == _line_of(ckpt, "finance:")
    assert info.value.field == "adapters.finance"


def test_inf_in_crma_weights(ckpt: Path) -> None:
    state = load_file(ckpt / "crma.safetensors")
    key = next(k for k in state if k.startswith("logits"))
    state[key][1, 2] = float("inf")
    save_file(state, ckpt / "crma.safetensors")
    ck = load_checkpoint(ckpt)
    with pytest.raises(InputError, match="NaN or inf") as info:
        ck.build_crma(tm.HIDDEN)
    assert info.value.line == _line_of(ckpt, "weights: crma.safetensors")


def test_nan_router_centroids(ckpt: Path) -> None:
    path = ckpt / "router.safetensors"
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as fh:
        metadata = fh.metadata()
    state = np_load(str(path))
    state["centroids"][0, 0] = np.nan
    np_save(state, str(path), metadata=metadata)
    ck = load_checkpoint(ckpt)
    with pytest.raises(InputError, match="NaN or inf") as info:
        _ = ck.router
    assert info.value.line == _line_of(ckpt, "weights: router.safetensors")


# --- CRMA asked for but absent ---


def test_crma_asked_without_crma_block_is_an_error(ckpt: Path, session: EngineSession) -> None:
    manifest = yaml.safe_load((ckpt / MANIFEST_NAME).read_text())
    del manifest["crma"]
    (ckpt / MANIFEST_NAME).write_text(yaml.safe_dump(manifest, sort_keys=False))
    ck = load_checkpoint(ckpt)
    with pytest.raises(InputError, match="no crma: block"):
        session.activate(ck, "legal", crma=True)
    assert session.activate(ck, "legal", crma=False).crma is False


# --- CRMA implementation as package.module:Class ---


def test_crma_implementation_by_import_path() -> None:
    from crma_eval.checkpoint.sinkhorn import SinkhornCRMA

    assert crma_module("crma_eval.checkpoint.sinkhorn:SinkhornCRMA") is SinkhornCRMA
    assert crma_module("sinkhorn") is SinkhornCRMA


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("os:system", "not a CRMA module class"),
        ("subprocess:Popen", "not a CRMA module class"),
        ("no_such_pkg_xyz.mod:Cls", "cannot import"),
        ("crma_eval.checkpoint.sinkhorn:Nope", "has no 'Nope'"),
        ("../evil:X", "package.module:Class"),
        ("my_crma", "package.module:Class"),
    ],
)
def test_crma_implementation_errors(name: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        crma_module(name)


def test_manifest_names_crma_class_by_path(ckpt: Path) -> None:
    manifest = yaml.safe_load((ckpt / MANIFEST_NAME).read_text())
    manifest["crma"]["implementation"] = "crma_eval.checkpoint.sinkhorn:SinkhornCRMA"
    (ckpt / MANIFEST_NAME).write_text(yaml.safe_dump(manifest, sort_keys=False))
    module = load_checkpoint(ckpt).build_crma(tm.HIDDEN)
    assert set(module.mixing_matrices()) == {"layers.1.mix"}


# --- base model content fingerprint ---


def test_base_model_fingerprint_tracks_content(world: tm.World, tmp_path: Path) -> None:
    copy = Path(shutil.copytree(world.base, tmp_path / "base"))
    first = base_model_fingerprint(str(world.base))
    assert first.startswith("local:")
    assert base_model_fingerprint(copy) == first  # content, not path
    weights = next(copy.glob("*.safetensors"))
    state = load_file(weights)
    key = next(iter(state))
    state[key] = state[key] * 1.5
    save_file(state, weights)
    assert base_model_fingerprint(copy) != first
    shutil.copytree(world.base, copy, dirs_exist_ok=True)
    (copy / "tokenizer.json").write_text((copy / "tokenizer.json").read_text() + " ")
    assert base_model_fingerprint(copy) != first


def test_base_model_fingerprint_of_hub_ids(
    world: tm.World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hub"))
    assert base_model_fingerprint("org/absent-model") == "hub:org/absent-model@uncached"
    repo = tmp_path / "hub" / "models--org--tiny"
    commit = "a" * 40
    shutil.copytree(world.base, repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    found = base_model_fingerprint("org/tiny")
    assert found.startswith(f"hub:org/tiny@{commit}:")
    assert found.endswith(base_model_fingerprint(world.base).removeprefix("local:"))


def test_adapter_hash_reads_resolved_files_inside(ckpt: Path) -> None:
    target = ckpt / "adapters" / "legal" / "adapter_config.json"
    shutil.move(target, ckpt / "legal_config.json")
    target.symlink_to(ckpt / "legal_config.json")
    files = load_checkpoint(ckpt)._files("adapter:legal") or []
    assert files[0] == (ckpt / "legal_config.json").resolve()
