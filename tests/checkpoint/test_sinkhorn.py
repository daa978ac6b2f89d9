"""Reference CRMA: doubly stochastic mixing, σ_max = 1, exact bypass, gradients, logging hooks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tinymodel as tm
import torch
from peft import LoraConfig, get_peft_model
from transformers import LlamaForCausalLM, TrainerControl, TrainerState

from crma_eval.api.registry import crma_module
from crma_eval.checkpoint.sinkhorn import SinkhornCRMA, decoder_layers, mixing_stats, sinkhorn
from crma_eval.plugins.spectral.hooks import SpectralLogCallback, log_spectral
from crma_eval.records import validate_record

pytestmark = pytest.mark.slow  # torch (the CRMA module is a torch module)


@pytest.fixture(scope="module")
def base_model() -> LlamaForCausalLM:
    return LlamaForCausalLM.from_pretrained(tm.world().base).eval()


@pytest.fixture(scope="module")
def ids() -> torch.Tensor:
    tok = tm.build_tokenizer()
    return torch.tensor([tok("the patient has a fever and the doctor gives aspirin")["input_ids"]])


@pytest.mark.parametrize("scale", [0.01, 1.0, 5.0, 20.0, 100.0, 1e4])
def test_doubly_stochastic_and_unit_spectral_norm(scale: float) -> None:
    gen = torch.Generator().manual_seed(int(scale * 100))
    for k in (2, 3, 4, 7, 8):
        for _ in range(20):
            m = sinkhorn(torch.randn(k, k, generator=gen) * scale, iters=30)
            assert m.dtype == torch.float64 and m.shape == (k, k)
            assert (m >= 0).all()
            assert torch.allclose(m.sum(0), torch.ones(k, dtype=m.dtype), atol=1e-6, rtol=0)
            assert torch.allclose(m.sum(1), torch.ones(k, dtype=m.dtype), atol=1e-6, rtol=0)
            sigma = np.linalg.norm(m.numpy(), ord=2)
            assert abs(sigma - 1.0) < 1e-6


def test_sinkhorn_is_a_diagonal_scaling_of_exp_logits() -> None:
    """M = D1 exp(L) D2: log M − L is a_i + b_j (double-centred residual zero)."""
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(5, 5, generator=gen, dtype=torch.float64)
    resid = torch.log(sinkhorn(logits, iters=200)) - logits
    resid = resid - resid.mean(0, keepdim=True) - resid.mean(1, keepdim=True) + resid.mean()
    assert resid.abs().max() < 1e-9
    assert not torch.allclose(sinkhorn(logits), torch.full((5, 5), 0.2, dtype=torch.float64))


def test_mixing_stats_agree_with_numpy() -> None:
    m = torch.tensor([[0.9, 0.3], [0.2, 0.6]], dtype=torch.float64)
    stats = mixing_stats(m)
    assert stats["spectral_norm"] == pytest.approx(np.linalg.norm(m.numpy(), ord=2), abs=1e-12)
    assert stats["row_sum_err"] == pytest.approx(0.2)
    assert stats["col_sum_err"] == pytest.approx(0.1)
    assert stats["min_entry"] == pytest.approx(0.2)


def test_mix_applies_matrix_across_groups() -> None:
    crma = SinkhornCRMA(hidden_size=6, layers=[0], k=3)
    with torch.no_grad():
        crma.logits["0"].copy_(torch.randn(3, 3))
        crma.gate["0"].fill_(0.7)
    h = torch.randn(2, 4, 6)
    m = crma.mixing_matrix(0).float()
    groups = h.view(2, 4, 3, 2)
    want = torch.stack([sum(m[i, j] * groups[..., j, :] for j in range(3)) for i in range(3)], -2)
    g = np.tanh(0.7)
    expected = h + g * (want.reshape(2, 4, 6) - h)
    assert torch.allclose(crma.mix(0, h), expected, atol=1e-6)


def test_entry_point_and_hidden_size_check() -> None:
    assert crma_module("sinkhorn") is SinkhornCRMA
    with pytest.raises(ValueError, match="divisible"):
        SinkhornCRMA(hidden_size=30, layers=[0], k=4)


def _crma(seed: int, gate: float) -> SinkhornCRMA:
    crma = SinkhornCRMA(hidden_size=tm.HIDDEN, layers=[0, 1], k=4)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in crma.named_parameters():
            p.copy_(
                torch.full_like(p, gate) if "gate" in name else torch.randn(p.shape, generator=gen)
            )
    return crma


def test_bypass_is_bit_for_bit_identity(base_model: LlamaForCausalLM, ids: torch.Tensor) -> None:
    with torch.no_grad():
        reference = base_model(ids).logits
        crma = _crma(0, gate=0.9).attach(base_model)
        try:
            active = base_model(ids).logits
            with crma.bypassed():
                bypassed = base_model(ids).logits
            crma.bypass(True)
            flagged = base_model(ids).logits
            crma.bypass(False)
            again = base_model(ids).logits
        finally:
            crma.detach()
        detached = base_model(ids).logits
    assert torch.equal(bypassed, reference) and torch.equal(flagged, reference)
    assert torch.equal(detached, reference)
    assert not torch.allclose(active, reference, atol=1e-4)
    assert torch.equal(again, active)


def test_zero_gate_is_identity(base_model: LlamaForCausalLM, ids: torch.Tensor) -> None:
    crma = _crma(1, gate=0.0).attach(base_model)
    try:
        with torch.no_grad():
            out = base_model(ids).logits
    finally:
        crma.detach()
    with torch.no_grad():
        assert torch.equal(out, base_model(ids).logits)


def test_gradients_reach_logits_and_gate(base_model: LlamaForCausalLM, ids: torch.Tensor) -> None:
    crma = _crma(2, gate=0.5).attach(base_model)
    try:
        base_model(ids).logits.pow(2).mean().backward()
    finally:
        crma.detach()
        base_model.zero_grad(set_to_none=True)
    for name, param in crma.named_parameters():
        assert param.grad is not None and torch.isfinite(param.grad).all(), name
        assert param.grad.abs().sum() > 0, name


def test_attach_through_peft_wrapper(base_model: LlamaForCausalLM, ids: torch.Tensor) -> None:
    fresh = LlamaForCausalLM.from_pretrained(tm.world().base).eval()
    wrapped = get_peft_model(fresh, LoraConfig(r=2, target_modules=["q_proj"]))
    assert decoder_layers(wrapped) is fresh.model.layers
    crma = _crma(3, gate=0.9).attach(wrapped)
    with torch.no_grad():
        mixed = wrapped(input_ids=ids).logits
        crma.detach()
        plain = wrapped(input_ids=ids).logits
    assert not torch.allclose(mixed, plain, atol=1e-4)
    with pytest.raises(ValueError, match="out of range"):
        SinkhornCRMA(hidden_size=tm.HIDDEN, layers=[5]).attach(wrapped)


def test_save_load_round_trip(tmp_path) -> None:
    crma = _crma(4, gate=0.3)
    crma.save(tmp_path / "crma.safetensors")
    loaded = SinkhornCRMA(hidden_size=tm.HIDDEN, layers=[0, 1], k=4).load(
        tmp_path / "crma.safetensors"
    )
    for name, m in crma.mixing_matrices().items():
        assert torch.equal(loaded.mixing_matrices()[name], m)
    assert set(crma.mixing_matrices()) == {"layers.0.mix", "layers.1.mix"}
    with pytest.raises(RuntimeError):
        SinkhornCRMA(hidden_size=tm.HIDDEN, layers=[0], k=4).load(tmp_path / "crma.safetensors")


def test_cached_matrix_follows_parameter_updates(tmp_path) -> None:
    crma = _crma(6, gate=0.3)
    with torch.no_grad():
        first = crma.mixing_matrix(0)
        assert crma.mixing_matrix(0) is first  # cached while the logits are unchanged
        crma.logits["0"].add_(1.0 * torch.eye(4))
        moved = crma.mixing_matrix(0)
    assert not torch.equal(moved, first)
    assert torch.equal(moved, sinkhorn(crma.logits["0"].detach()))
    _crma(7, gate=0.3).save(tmp_path / "other.safetensors")
    with torch.no_grad():
        loaded = crma.load(tmp_path / "other.safetensors").mixing_matrix(0)
    assert torch.equal(loaded, sinkhorn(crma.logits["0"].detach()))
    assert crma.mixing_matrix(0).requires_grad  # with gradients on, never the cache


def test_log_spectral_writes_valid_records(tmp_path) -> None:
    crma = _crma(5, gate=0.3)
    path = tmp_path / "logs" / "spectral.jsonl"
    log_spectral(crma, step=5, phase="medical", path=path)
    callback = SpectralLogCallback(crma, path, phase="legal", every=5)
    for step in range(1, 11):
        callback.on_step_end(None, TrainerState(global_step=step), TrainerControl())
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    records = [validate_record(obj, path=path, line=i) for i, obj in enumerate(lines, 1)]
    assert [(r["step"], r["phase"]) for r in records[::2]] == [
        (5, "medical"),
        (5, "legal"),
        (10, "legal"),
    ]
    assert len(records) == 6
    for r in records:
        assert abs(r["spectral_norm"] - 1.0) < 1e-6 and r["row_sum_err"] < 1e-6
        assert r["module"] in ("layers.0.mix", "layers.1.mix")


def test_gradients_are_finite_for_random_logits() -> None:
    # Regression: the rounding step's correction term once gave infinite gradients for ~5% of
    # random logits, which silently froze CRMA training.
    gen = torch.Generator().manual_seed(0)
    for _ in range(300):
        logits = (torch.randn(4, 4, generator=gen, dtype=torch.float64) * 3).requires_grad_()
        weights = torch.randn(4, 4, generator=gen, dtype=torch.float64)
        (sinkhorn(logits) * weights).sum().backward()
        assert torch.isfinite(logits.grad).all()
