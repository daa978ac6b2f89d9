"""The fake engine session: deterministic model outputs without torch, so the collect stage,
the ledger and resume are tested in a fraction of a second."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from crma_eval import FakeSession, RunConfig, RunDir
from crma_eval.api import CollectContext, Unit
from crma_eval.collect import run_units

DOMAINS = ("ab", "abcd", "xyz")


class LossCollector:
    """A toy collector: one `loss` record per domain from the session's holdout loss."""

    def units(self, ctx: CollectContext) -> list[Unit]:
        return [Unit("drift", "-", "-", d) for d in DOMAINS]

    def run(self, unit: Unit, ctx: CollectContext) -> list[dict[str, Any]]:
        loss, n = ctx.session().holdout_loss([f"text of {unit.domain}", "more words here"])
        record = {"kind": "loss", "condition": "fake", "seed": 0, "after_phase": 1}
        return [{**record, "domain": unit.domain, "loss": loss, "n_tokens": n}]


def _collect(path: Path) -> tuple[FakeSession, str]:
    session = FakeSession()
    run = RunDir(path)
    run.ensure()
    ctx = CollectContext(RunConfig(plugins=["drift"]), [], run, lambda: session)
    assert run_units({"drift": LossCollector()}, ctx) == []
    return session, (path / "records" / "loss.jsonl").read_text(encoding="utf-8")


def test_collect_then_resume_computes_nothing_again(tmp_path: Path) -> None:
    first, records = _collect(tmp_path / "run")
    assert [c[0] for c in first.calls] == ["holdout_loss"] * len(DOMAINS)
    again, same = _collect(tmp_path / "run")
    assert again.calls == [] and same == records
    _, twin = _collect(tmp_path / "other")  # a fresh run gives the very same records
    assert twin == records and len(twin.splitlines()) == len(DOMAINS)


def test_outputs_depend_on_input_and_active_state_only() -> None:
    a, b = FakeSession(), FakeSession()
    assert a.holdout_loss(["x y z"]) == b.holdout_loss(["x y z"])
    assert a.holdout_loss(["x y z"])[1] == 3
    assert a.generate(["q1", "q2"], 8, ["\n"]) == b.generate(["q1", "q2"], 8, ["\n"])
    emb = a.embed(["one", "two"])
    assert emb.shape == (2, 8)
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0)
    np.testing.assert_array_equal(emb, b.embed(["one", "two"]))


class _Ckpt:
    def __init__(self, crma: bool) -> None:
        self.id = "ck"
        self.manifest = type("M", (), {"crma": {} if crma else None})()


def test_activation_changes_outputs_and_crma_needs_a_crma_block() -> None:
    s = FakeSession(answers={"capital of France": "Paris"})
    prompt = ["Question: capital of France?\nAnswer:"]
    assert s.generate(prompt, 8, ["\n"]) == ["unknown"]  # bare base
    s.activate(_Ckpt(crma=True), "geo", crma=False)
    assert s.generate(prompt, 8, ["\n"]) == ["Paris"]
    off = s.holdout_loss(["t"])[0]
    s.activate(_Ckpt(crma=True), "geo", crma=True)
    assert s.holdout_loss(["t"])[0] == pytest.approx(0.9 * off)
    with s.base_only():
        assert s.active.domain is None
    assert s.active.domain == "geo" and s.active.crma
    from crma_eval import InputError

    with pytest.raises(InputError, match="no crma"):
        s.activate(_Ckpt(crma=False), "geo", crma=True)


def test_fake_session_is_an_engine_entry_point_and_imports_no_torch() -> None:
    code = (
        "import sys\nfrom crma_eval import RunConfig\nfrom crma_eval.api import CollectContext\n"
        "ctx = CollectContext.from_config(RunConfig(), None, [], engine='fake')\n"
        "print(type(ctx.session()).__name__, 'torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["FakeSession", "False"]
