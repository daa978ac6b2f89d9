"""Checkpoint manifest loading, its bad-input errors, and the centroid router."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest
import tinymodel as tm
import yaml

from crma_eval.checkpoint import MANIFEST_NAME, load_checkpoint, write_manifest
from crma_eval.checkpoint.router import CentroidRouter
from crma_eval.config import EngineConfig
from crma_eval.errors import InputError

if TYPE_CHECKING:  # torch and transformers are imported by the slow tests only
    from crma_eval.engine import EngineSession


@pytest.fixture(scope="module")
def world() -> tm.World:
    return tm.world()


@pytest.fixture
def ckpt(world: tm.World, tmp_path: Path) -> Path:
    """A private copy of the final modular checkpoint, free to break."""
    return Path(shutil.copytree(world.checkpoints["modular-seed0-phase3"], tmp_path / "ck"))


def _edit(folder: Path, change: Callable[[dict], None]) -> None:
    manifest = yaml.safe_load((folder / MANIFEST_NAME).read_text())
    change(manifest)
    (folder / MANIFEST_NAME).write_text(yaml.safe_dump(manifest, sort_keys=False))


def _line_of(folder: Path, text: str) -> int:
    lines = (folder / MANIFEST_NAME).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


@pytest.mark.slow
def test_load_valid_checkpoint(world: tm.World) -> None:
    ck = load_checkpoint(world.checkpoints["modular-seed0-phase2"])
    assert ck.id == "modular-seed0-phase2"
    assert ck.trained_domains == tm.DOMAINS[:2] and ck.phase == 2 and not ck.is_final
    assert ck.last_domain == "legal"
    assert ck.adapter_path("legal") == (ck.path / "adapters" / "legal").resolve()
    assert ck.adapter_path("finance") is None
    assert ck.base_model == str(world.base)
    assert ck.router.domains == tm.DOMAINS
    assert load_checkpoint(ck.manifest_path).id == ck.id


@pytest.mark.slow
def test_content_hash_tracks_content(world: tm.World) -> None:
    p2 = load_checkpoint(world.checkpoints["modular-seed0-phase2"])
    p3 = load_checkpoint(world.checkpoints["modular-seed0-phase3"])
    naive = load_checkpoint(world.checkpoints["naive-seed0-phase3"])
    assert p2.content_hash("adapter:medical") == p3.content_hash("adapter:medical")
    assert p2.content_hash("adapter:medical") != p2.content_hash("adapter:legal")
    assert p2.content_hash("crma") != p3.content_hash("crma")
    assert len({naive.content_hash(f"adapter:{d}") for d in tm.DOMAINS}) == 1
    with pytest.raises(KeyError):
        p2.content_hash("adapter:finance")
    assert len({p2.content_hash(), p3.content_hash(), naive.content_hash()}) == 3


@pytest.mark.slow
def test_whole_content_hash_sees_every_file(ckpt: Path) -> None:
    before = load_checkpoint(ckpt).content_hash()
    assert load_checkpoint(ckpt).content_hash() == before
    from safetensors.torch import load_file, save_file

    weights = ckpt / "adapters" / "finance" / "adapter_model.safetensors"
    state = load_file(weights)
    key = next(iter(state))
    state[key] = state[key] + 1e-3
    save_file(state, weights)
    assert load_checkpoint(ckpt).content_hash() != before


@pytest.mark.slow
def test_id_falls_back_to_folder_name(ckpt: Path) -> None:
    _edit(ckpt, lambda m: m.pop("training"))
    ck = load_checkpoint(ckpt)
    assert ck.id == "ck" and ck.is_final and ck.trained_domains == tm.DOMAINS


def test_write_manifest_rejects_invalid(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="domain_order"):
        write_manifest(tmp_path, {"format": "crma-checkpoint/1", "base_model": "x"})


def _expect(ckpt: Path, match: str, line_text: str | None = None) -> InputError:
    with pytest.raises(InputError, match=match) as info:
        load_checkpoint(ckpt)
    assert info.value.path == str(ckpt / MANIFEST_NAME)
    if line_text is not None:
        assert info.value.line == _line_of(ckpt, line_text)
    return info.value


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found") as info:
        load_checkpoint(tmp_path)
    assert info.value.path == str(tmp_path / MANIFEST_NAME)


@pytest.mark.slow
def test_malformed_yaml(ckpt: Path) -> None:
    text = (ckpt / MANIFEST_NAME).read_text()
    (ckpt / MANIFEST_NAME).write_text(text.replace("domain_order:", "domain_order: [unclosed"))
    assert _expect(ckpt, "invalid YAML").line is not None


@pytest.mark.slow
def test_schema_error_names_line(ckpt: Path) -> None:
    _edit(ckpt, lambda m: m["training"].update(phase="three"))
    _expect(ckpt, "whole number", "phase:")


@pytest.mark.slow
@pytest.mark.parametrize("bad", ["../outside", "adapters/../../outside", "/etc"])
def test_path_escaping_folder(ckpt: Path, bad: str) -> None:
    _edit(ckpt, lambda m: m["adapters"].update(legal=bad))
    _expect(ckpt, "escapes|absolute", "legal:")


@pytest.mark.slow
def test_symlink_out_of_folder(ckpt: Path, tmp_path: Path) -> None:
    outside = Path(shutil.copytree(ckpt / "adapters" / "legal", tmp_path / "elsewhere"))
    shutil.rmtree(ckpt / "adapters" / "legal")
    (ckpt / "adapters" / "legal").symlink_to(outside)
    _expect(ckpt, "escapes", "legal:")


@pytest.mark.slow
def test_missing_adapter_folder(ckpt: Path) -> None:
    shutil.rmtree(ckpt / "adapters" / "finance")
    _expect(ckpt, "not found", "finance:")


@pytest.mark.slow
def test_pickle_only_adapter(ckpt: Path) -> None:
    import torch
    from safetensors.torch import load_file

    weights = ckpt / "adapters" / "legal" / "adapter_model.safetensors"
    torch.save(load_file(weights), weights.with_suffix(".bin"))
    weights.unlink()
    _expect(ckpt, "pickle-only", "legal:")


@pytest.mark.slow
def test_pickle_crma_weights(ckpt: Path) -> None:
    import torch
    from safetensors.torch import load_file

    torch.save(load_file(ckpt / "crma.safetensors"), ckpt / "crma.pt")
    _edit(ckpt, lambda m: m["crma"].update(weights="crma.pt"))
    _expect(ckpt, "pickle-only", "crma.pt")


@pytest.mark.slow
def test_corrupt_safetensors(ckpt: Path) -> None:
    (ckpt / "router.safetensors").write_bytes(b"not a safetensors file")
    _expect(ckpt, "safetensors", "router.safetensors")


@pytest.mark.slow
def test_missing_spectral_log(ckpt: Path) -> None:
    _edit(ckpt, lambda m: m.update(logs={"spectral": "logs/spectral.jsonl"}))
    _expect(ckpt, "not found", "spectral:")


@pytest.mark.slow
def test_adapter_for_unknown_domain(ckpt: Path) -> None:
    _edit(ckpt, lambda m: m["adapters"].update(poetry="adapters/legal"))
    _expect(ckpt, "poetry")


@pytest.fixture(scope="module")
def session(world: tm.World) -> EngineSession:
    from crma_eval.engine import EngineSession

    return EngineSession(str(world.base), EngineConfig(batch_size=4))


@pytest.mark.slow
def test_adapter_targets_absent_from_base(ckpt: Path, session: EngineSession) -> None:
    config_path = ckpt / "adapters" / "legal" / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["target_modules"] = ["q_proj", "wq_missing"]
    config_path.write_text(json.dumps(config))
    ck = load_checkpoint(ckpt)
    with pytest.raises(InputError, match="wq_missing") as info:
        session.activate(ck, "legal", crma=False)
    assert info.value.path == str(ckpt / MANIFEST_NAME)
    assert info.value.line == _line_of(ckpt, "legal:")


@pytest.mark.slow
def test_lora_shape_mismatch(ckpt: Path, session: EngineSession) -> None:
    import torch
    from safetensors.torch import load_file, save_file

    weights = ckpt / "adapters" / "medical" / "adapter_model.safetensors"
    state = load_file(weights)
    key = next(k for k in state if "lora_A" in k)
    state[key] = torch.zeros(state[key].shape[0], state[key].shape[1] + 3)
    save_file(state, weights)
    ck = load_checkpoint(ckpt)
    with pytest.raises(InputError, match="shape") as info:
        session.activate(ck, "medical", crma=False)
    assert info.value.path == str(ckpt / MANIFEST_NAME)
    assert info.value.line == _line_of(ckpt, "medical:")
    session.activate(ck, "legal", crma=False)  # the session survives the bad adapter


@pytest.mark.slow
def test_router_build_route_and_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    emb = {d: rng.normal(size=(4, 8)) + 3 * np.eye(8)[i] for i, d in enumerate(tm.DOMAINS)}
    router = CentroidRouter.build(emb, threshold=0.5)
    loaded = CentroidRouter.load(router.save(tmp_path / "router.safetensors"))
    assert loaded.domains == tm.DOMAINS and loaded.threshold == 0.5
    queries = np.vstack([np.eye(8)[1] * 5 + 0.1, -np.eye(8)[0]])
    routes = loaded.route(queries)
    centroids = loaded.centroids
    sims = (queries / np.linalg.norm(queries, axis=1, keepdims=True)) @ centroids.T
    assert routes[0].predicted == tm.DOMAINS[int(np.argmax(sims[0]))] == "legal"
    assert routes[0].score == pytest.approx(sims[0].max())
    assert routes[0].margin == pytest.approx(np.sort(sims[0])[-1] - np.sort(sims[0])[-2])
    assert routes[0].scores["finance"] == pytest.approx(sims[0][2])
    assert routes[1].predicted is None and routes[1].score < 0.5  # abstains below threshold


def test_router_bad_file(tmp_path: Path) -> None:
    from safetensors.numpy import save_file

    centroids = np.zeros((2, 4), dtype=np.float32)
    save_file({"centroids": centroids}, tmp_path / "r.safetensors", metadata={"x": "1"})
    with pytest.raises(InputError, match="metadata"):
        CentroidRouter.load(tmp_path / "r.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00" * 5)
    with pytest.raises(InputError, match="safetensors"):
        CentroidRouter.load(tmp_path / "junk.safetensors")
