"""Collectors (drift, QA, router, spectral): units, records, failures and deterministic resume."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import tinymodel as tm
import yaml
from safetensors.torch import load_file, save_file

from crma_eval.checkpoint import MANIFEST_NAME, load_checkpoint, write_manifest
from crma_eval.checkpoint.sinkhorn import SinkhornCRMA
from crma_eval.collect import CollectContext, Unit, run_units
from crma_eval.collect.data import read_items
from crma_eval.config import Arm, DataConfig, EngineConfig, GenerationConfig, RunConfig
from crma_eval.engine import EngineSession
from crma_eval.errors import InputError
from crma_eval.plugins.drift.collect import DriftCollector
from crma_eval.plugins.qa.collect import QACollector
from crma_eval.plugins.router.collect import RouterCollector, read_suite
from crma_eval.plugins.spectral.collect import SpectralCollector
from crma_eval.plugins.spectral.hooks import log_spectral
from crma_eval.records import load_records, validate_record
from crma_eval.scoring import score
from crma_eval.store import RunDir

pytestmark = pytest.mark.slow  # a real tiny model and its checkpoints

QUESTIONS = {
    "medical": ["what treats high blood sugar ?", "what does the nurse check ?", "the patient has"],
    "legal": ["who reads the verdict ?", "where does a lawyer file the appeal ?"],
}
ARMS = [
    Arm(name="with_crma"),
    Arm(name="without_crma", crma=False),
    Arm(name="routed", adapter="router"),
    Arm(name="base", crma=False, adapter="none"),
]


@pytest.fixture(scope="module")
def world() -> tm.World:
    return tm.world()


@pytest.fixture(scope="module")
def session(world: tm.World) -> EngineSession:
    return EngineSession(str(world.base), EngineConfig(batch_size=4, max_length=64))


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> DataConfig:
    suite = [
        ("the judge reads", "in_domain", "legal"),
        ("a bond pays", "boundary", "finance"),
        ("yes no 42", "ood", None),
    ]
    root = tmp_path_factory.mktemp("data")
    return DataConfig(**tm.write_data(root, QUESTIONS, suite, text_domains={"medical", "finance"}))


def make_ctx(
    world: tm.World, session: EngineSession, data: DataConfig, run: Path, **overrides: Any
) -> CollectContext:
    settings: dict[str, Any] = {
        "checkpoints": list(world.checkpoints.values()),
        "arms": ARMS,
        "data": data.model_copy(deep=True),
        "engine": EngineConfig(batch_size=4, max_length=64),
        "generation": GenerationConfig(max_new_tokens=4, stop=["?"]),
    }
    config = RunConfig(**{**settings, **overrides})
    checkpoints = [load_checkpoint(p) for p in config.checkpoint_paths()]
    return CollectContext(config, checkpoints, RunDir(run), session_factory=lambda: session)


@pytest.fixture
def ctx(world, session, data, tmp_path) -> CollectContext:
    return make_ctx(world, session, data, tmp_path / "run")


def _valid(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [validate_record(r, path="<memory>", line=i) for i, r in enumerate(records, 1)]


def test_drift_units_and_records(ctx: CollectContext, session: EngineSession) -> None:
    collector = DriftCollector()
    units = collector.units(ctx)
    assert len(units) == len(ctx.checkpoints) * len(tm.DOMAINS)
    assert len({u.key for u in units}) == len(units)
    for cid, domain, adapter in [
        ("modular-seed0-phase1", "legal", None),
        ("modular-seed0-phase3", "legal", "legal"),
        ("naive-seed0-phase2", "medical", "medical"),
    ]:
        (record,) = _valid(collector.run(Unit("drift", cid, "-", domain), ctx))
        ck = ctx.checkpoint(cid)
        assert (record["condition"], record["seed"]) == (ck.manifest.training.condition, 0)
        assert record["after_phase"] == ck.phase and record["domain"] == domain
        assert record["domain_order"] == tm.DOMAINS and record["checkpoint"] == cid
        session.activate(ck, adapter, crma=True)
        loss, n = session.holdout_loss(tm.SENTENCES[domain])
        assert (record["loss"], record["n_tokens"]) == (loss, n)
        assert record.get("adapter") == adapter and record["crma"] is True


def test_drift_failures_raise_input_error(ctx: CollectContext, tmp_path: Path) -> None:
    ctx.config.data.holdout = {**ctx.config.data.holdout, "legal": tmp_path / "missing.txt"}
    with pytest.raises(InputError, match="not found"):
        DriftCollector().run(Unit("drift", "modular-seed0-phase3", "-", "legal"), ctx)
    (tmp_path / "short.txt").write_text("the\n")
    ctx.config.data.holdout["legal"] = tmp_path / "short.txt"
    with pytest.raises(InputError, match="no tokens"):
        DriftCollector().run(Unit("drift", "modular-seed0-phase3", "-", "legal"), ctx)


def test_drift_nan_loss(world, session, data, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(world.checkpoints["modular-seed0-phase2"], tmp_path / "nan"))
    state = load_file(folder / "crma.safetensors")
    state = {k: v.fill_(float("nan")) if "gate" in k else v for k, v in state.items()}
    save_file(state, folder / "crma.safetensors")
    manifest = yaml.safe_load((folder / MANIFEST_NAME).read_text())
    manifest["training"]["condition"] = "broken"
    write_manifest(folder, manifest)
    ctx = make_ctx(world, session, data, tmp_path / "run", checkpoints=[folder])
    failures = run_units({"drift": DriftCollector()}, ctx)
    assert len(failures) == len(tm.DOMAINS)
    assert all("nan" in f.problem for f in failures)
    assert ctx.run_dir.completed_units() == set()


class _Interrupt(DriftCollector):
    """Dies (like a killed process) when asked for its n-th unit."""

    def __init__(self, after: int) -> None:
        self.left = after

    def run(self, unit: Unit, ctx: CollectContext) -> list[dict[str, Any]]:
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt
        return super().run(unit, ctx)


def test_resumed_run_equals_uninterrupted(world, session, data, tmp_path: Path) -> None:
    collectors = {"drift": DriftCollector(), "spectral": SpectralCollector()}
    whole = make_ctx(world, session, data, tmp_path / "whole")
    assert run_units(collectors, whole) == []
    resumed = make_ctx(world, session, data, tmp_path / "resumed")
    with pytest.raises(KeyboardInterrupt):
        run_units({"drift": _Interrupt(after=7), "spectral": SpectralCollector()}, resumed)
    assert len(resumed.run_dir.completed_units()) == 7
    assert run_units(collectors, resumed) == []
    names = [p.name for p in whole.run_dir.record_files()]
    assert (
        names
        == [p.name for p in resumed.run_dir.record_files()]
        == ["loss.jsonl", "spectral.jsonl"]
    )
    for name in names:
        assert (tmp_path / "whole/records" / name).read_bytes() == (
            tmp_path / "resumed/records" / name
        ).read_bytes()
    frames = load_records(whole.run_dir.record_files())
    assert len(frames["loss"]) == len(world.checkpoints) * len(tm.DOMAINS)


def test_qa_units(world, session, data, tmp_path: Path) -> None:
    final = make_ctx(world, session, data, tmp_path / "a")
    every = make_ctx(world, session, data, tmp_path / "b", qa_checkpoints="all")
    n_final = sum(ck.is_final for ck in final.checkpoints)
    assert len(QACollector().units(final)) == n_final * len(ARMS) * len(QUESTIONS) == 16
    units = QACollector().units(every)
    # Every checkpoint now, but an oracle arm only on the domains its checkpoint has trained.
    expected = {
        (ck.id, arm.name, d)
        for ck in every.checkpoints
        for arm in ARMS
        for d in QUESTIONS
        if arm.adapter != "oracle" or d in ck.manifest.domain_order[: ck.manifest.training.phase]
    }
    assert {(u.checkpoint, u.arm, u.domain) for u in units} == expected
    skipped = len(world.checkpoints) * len(ARMS) * len(QUESTIONS) - len(expected)
    assert skipped > 0  # phase-1 checkpoints have not trained every QA domain


def test_an_arm_may_answer_every_checkpoint_on_its_own(world, session, data, tmp_path) -> None:
    arms = [*ARMS, Arm(name="every", crma=False, checkpoints="all")]
    ctx = make_ctx(world, session, data, tmp_path / "c", arms=arms)
    units = QACollector().units(ctx)
    finals = {ck.id for ck in ctx.checkpoints if ck.is_final}
    assert {u.checkpoint for u in units if u.arm != "every"} == finals
    assert {u.checkpoint for u in units if u.arm == "every"} == {ck.id for ck in ctx.checkpoints}
    # Unset, the field stays out of the arm's dump: existing units keep their fingerprints.
    assert "checkpoints" not in ARMS[0].model_dump() and arms[-1].model_dump()["checkpoints"]


def _prompts(ctx: CollectContext, domain: str) -> list[str]:
    return [ctx.config.generation.prompt_template.format(question=q) for q in QUESTIONS[domain]]


def test_qa_arms(ctx: CollectContext, session: EngineSession, tmp_path: Path) -> None:
    ck = ctx.checkpoint("modular-seed0-phase3")
    gen = ctx.config.generation
    session.activate(ck, "medical", crma=True)
    oracle = session.generate(_prompts(ctx, "medical"), gen.max_new_tokens, gen.stop)
    # references: the oracle's own first word for item 0, something it never says for the rest
    refs = [oracle[0].split()[0], "zzz", "zzz"]
    ctx.config.data.qa["medical"] = tm.write_jsonl(
        tmp_path / "qa.jsonl",
        [
            {"item_id": i, "question": q, "reference": r}
            for i, (q, r) in enumerate(zip(QUESTIONS["medical"], refs, strict=True))
        ],
    )
    raw = {arm.name: QACollector().run(Unit("qa", ck.id, arm.name, "medical"), ctx) for arm in ARMS}
    records = {name: _valid(rows) for name, rows in raw.items()}
    for name, rows in raw.items():
        ctx.run_dir.commit_unit(name, rows)
    assert len(load_records(ctx.run_dir.record_files())["qa"]) == 3 * len(ARMS)
    with_crma = records["with_crma"]
    assert [r["prediction"] for r in with_crma] == oracle
    assert [r["correct"] for r in with_crma] == [True, False, False]
    assert [r["item_id"] for r in with_crma] == ["0", "1", "2"]
    for arm_records in records.values():
        for r in arm_records:
            assert r["correct"] == score(r["prediction"], r["reference"]).correct
            assert r["seed"] == 0 and r["checkpoint"] == ck.id and r["domain"] == "medical"
            assert r["after_phase"] == 3 and r["domain_order"] == ck.manifest.domain_order
    session.activate(ck, None, crma=False)
    base = session.generate(_prompts(ctx, "medical"), gen.max_new_tokens, gen.stop)
    assert [r["prediction"] for r in records["base"]] == base
    routes = ck.router.route(session.embed(QUESTIONS["medical"]))
    assert [r.get("routed_domain") for r in records["routed"]] == [x.predicted for x in routes]
    assert all(r["routed_domain"] is None for r in with_crma)


def test_qa_bad_items(ctx: CollectContext, tmp_path: Path) -> None:
    bad = tm.write_jsonl(
        tmp_path / "bad.jsonl",
        [{"item_id": 1, "question": "q", "reference": "x", "answer_type": "number"}],
    )
    ctx.config.data.qa["medical"] = bad
    with pytest.raises(InputError, match="not a number") as info:
        QACollector().run(Unit("qa", "modular-seed0-phase3", "with_crma", "medical"), ctx)
    assert (info.value.path, info.value.line) == (str(bad), 1)


def test_read_items_errors(tmp_path: Path) -> None:
    path = tm.write_jsonl(
        tmp_path / "x.jsonl", [{"item_id": "a", "query": "q"}, {"item_id": "a", "query": "r"}]
    )
    with pytest.raises(InputError, match="duplicate") as info:
        read_items(path, ("query",))
    assert info.value.line == 2
    path.write_text('{"item_id": "a"}\n')
    with pytest.raises(InputError, match="missing"):
        read_items(path, ("query",))
    path.write_text('{"item_id": "a", "query": "q", "category": "weird", "gold": null}\n')
    with pytest.raises(InputError, match="in_domain"):
        read_suite(path)


def test_router_collector(ctx: CollectContext, session: EngineSession) -> None:
    units = RouterCollector().units(ctx)
    assert [u.checkpoint for u in units] == ["modular-seed0-phase3", "naive-seed0-phase3"]
    raw = RouterCollector().run(units[0], ctx)
    records = _valid(raw)
    ctx.run_dir.commit_unit(units[0].key, raw)
    stored = load_records(ctx.run_dir.record_files())["route"]
    assert stored["item_id"].tolist() == ["a", "b", "c"] and stored["gold"].isna().tolist()[2]
    ck = ctx.checkpoint(units[0].checkpoint)
    routes = ck.router.route(session.embed(["the judge reads", "a bond pays", "yes no 42"]))
    assert [r["predicted"] for r in records] == [x.predicted for x in routes]
    assert [r["score"] for r in records] == [x.score for x in routes]
    assert [r["gold"] for r in records] == ["legal", "finance", None]
    assert records[0]["scores"] == routes[0].scores
    ctx.config.data.router_suite = None
    assert RouterCollector().units(ctx) == []


def _with_log(world: tm.World, tmp_path: Path, log_name: str, step: int | None) -> Path:
    folder = Path(shutil.copytree(world.checkpoints["modular-seed0-phase2"], tmp_path / "ck"))
    manifest = yaml.safe_load((folder / MANIFEST_NAME).read_text())
    manifest["logs"] = {"spectral": f"logs/{log_name}"}
    if step is not None:
        manifest["training"]["step"] = step
    (folder / "logs").mkdir()
    write_manifest(folder, manifest)
    return folder


def test_spectral_from_jsonl_log_and_weights(world, session, data, tmp_path: Path) -> None:
    folder = _with_log(world, tmp_path, "spectral.jsonl", step=40)
    crma = SinkhornCRMA(hidden_size=tm.HIDDEN, layers=[1]).load(folder / "crma.safetensors")
    for step in (5, 10):
        log_spectral(crma, step, "legal", folder / "logs" / "spectral.jsonl")
    ctx = make_ctx(world, session, data, tmp_path / "run", checkpoints=[folder])
    collector = SpectralCollector()
    units = collector.units(ctx)
    assert [u.domain for u in units] == ["log", "checkpoint"]
    log = _valid(collector.run(units[0], ctx))
    assert [(r["step"], r["source"], r["checkpoint"]) for r in log] == [
        (5, "log", "modular-seed0-phase2"),
        (10, "log", "modular-seed0-phase2"),
    ]
    (own,) = _valid(collector.run(units[1], ctx))
    assert (own["step"], own["phase"], own["module"], own["source"]) == (
        40,
        "legal",
        "layers.1.mix",
        "checkpoint",
    )
    assert abs(own["spectral_norm"] - 1.0) < 1e-6 and own["row_sum_err"] < 1e-6
    assert own["spectral_norm"] == log[0]["spectral_norm"]
    assert own["min_entry"] == pytest.approx(float(crma.mixing_matrices()["layers.1.mix"].min()))


def test_spectral_from_csv_log(world, session, data, tmp_path: Path) -> None:
    folder = _with_log(world, tmp_path, "spectral.csv", step=None)
    (folder / "logs" / "spectral.csv").write_text(
        "step,phase,module,spectral_norm,row_sum_err\n5,medical,layers.1.mix,1.0000001,\n"
        "10,medical,layers.1.mix,0.9999999,1e-7\n"
    )
    ctx = make_ctx(world, session, data, tmp_path / "run", checkpoints=[folder])
    log = _valid(SpectralCollector().run(Unit("spectral", ctx.checkpoints[0].id, "-", "log"), ctx))
    assert [(r["step"], r["spectral_norm"], r.get("row_sum_err")) for r in log] == [
        (5, 1.0000001, None),
        (10, 0.9999999, 1e-7),
    ]
    (own,) = SpectralCollector().run(
        Unit("spectral", ctx.checkpoints[0].id, "-", "checkpoint"), ctx
    )
    assert own["step"] == 0
    (folder / "logs" / "spectral.csv").write_text("step,phase,module,spectral_norm\n5,m,x,oops\n")
    with pytest.raises(InputError, match="spectral_norm") as info:
        SpectralCollector().run(Unit("spectral", ctx.checkpoints[0].id, "-", "log"), ctx)
    assert info.value.line == 2
