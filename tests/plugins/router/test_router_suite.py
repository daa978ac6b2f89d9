"""router-suite generator, domain overlap, pluggable routers, the centroid router's confidence."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from scipy.special import softmax

from crma_eval.api.registry import router_class
from crma_eval.checkpoint.router import CentroidRouter, fit_temperature
from crma_eval.cli import cli
from crma_eval.errors import InputError
from crma_eval.plugins.router.collect import read_suite
from crma_eval.plugins.router.overlap import domain_overlap
from crma_eval.plugins.router.suite import PERTURBATIONS, read_texts
from crma_eval.resources import ood_file

QUESTIONS = {
    "cooking": ["How long do I bake bread at 200 degrees?", "What knife cuts onions best?",
                "Why does my sauce split when reheated?", "How much salt goes in pasta water?"],
    "tax": ["Can I deduct my home office expenses?", "When is the quarterly filing deadline?",
            "How is capital gains tax computed on shares?", "What counts as taxable income?"],
    "law": ["Is a verbal contract binding in court?", "How long is the statute of limitations?"],
}  # fmt: skip


def _write(folder: Path, name: str, texts: list[str]) -> Path:
    path = folder / f"{name}.jsonl"
    rows = [{"item_id": f"{name}-{i}", "question": q} for i, q in enumerate(texts)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _run(tmp_path: Path, out: str, *extra: str) -> list[dict]:
    args = ["router-suite", "--out", str(tmp_path / out), "--n-per-category", "9", *extra]
    for d, qs in QUESTIONS.items():
        args += ["--qa", f"{d}={_write(tmp_path, d, qs)}"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in (tmp_path / out).read_text().splitlines()]


def test_suite_categories_labels_and_determinism(tmp_path: Path) -> None:
    items = _run(tmp_path, "a.jsonl", "--seed", "4")
    _run(tmp_path, "b.jsonl", "--seed", "4")
    _run(tmp_path, "c.jsonl", "--seed", "5")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (tmp_path / "a.jsonl").read_bytes() != (tmp_path / "c.jsonl").read_bytes()
    by = {c: [i for i in items if i["category"] == c] for c in
          ("in_domain", "perturbed", "boundary", "ambiguous", "ood")}  # fmt: skip
    assert all(len(v) == 9 for v in by.values())
    assert len({i["item_id"] for i in items}) == len(items)
    assert all(i["gold"] is None and "acceptable" not in i for i in by["ood"])
    ood_texts = set(read_texts(ood_file()))
    assert all(i["query"] in ood_texts for i in by["ood"])
    all_questions = {q: d for d, qs in QUESTIONS.items() for q in qs}
    for i in by["in_domain"]:
        assert all_questions[i["query"]] == i["gold"]
    for i in by["perturbed"]:
        assert i["query"] != i["source"] and i["perturbation"] in PERTURBATIONS
        assert all_questions[i["source"]] == i["gold"]
    for i in by["boundary"]:
        asked = next(q for q in QUESTIONS[i["gold"]] if i["query"].endswith(q))
        assert asked and i["rival"] != i["gold"]
    for i in by["ambiguous"]:
        assert i["acceptable"] == sorted(QUESTIONS) and i["gold"] in QUESTIONS
        assert not any(w in i["query"].lower() for w in ("tax", "law", "cook"))
    assert read_suite(tmp_path / "a.jsonl")  # the collector accepts it


def test_every_perturbation_changes_a_query() -> None:
    import random

    for name, fn in PERTURBATIONS.items():
        changed = [fn(q, random.Random(k)) != q for k in range(20) for q in QUESTIONS["tax"]]
        assert any(changed), name


def test_suite_rejects_bad_input(tmp_path: Path) -> None:
    path = _write(tmp_path, "x", ["a question?"])
    result = CliRunner().invoke(
        cli, ["router-suite", "--qa", f"x={path}", "--out", str(tmp_path / "s.jsonl")]
    )
    assert result.exit_code == 2 and "at least two domains" in result.output
    result = CliRunner().invoke(
        cli, ["router-suite", "--qa", "nofile", "--qa", f"x={path}", "--out", str(tmp_path / "s")]
    )
    assert result.exit_code == 2 and "DOMAIN=FILE" in result.output


def test_read_suite_refuses_ood_with_acceptable(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    row = {"item_id": "o", "query": "q", "category": "ood", "gold": None, "acceptable": ["a"]}
    path.write_text(json.dumps(row) + "\n")
    with pytest.raises(InputError, match="ood"):
        read_suite(path)


def test_domain_overlap_matches_direct_computation() -> None:
    rng = np.random.default_rng(0)
    emb = {"a": rng.normal(size=(6, 5)) + 2, "b": rng.normal(size=(5, 5)) + 1.8,
           "c": rng.normal(size=(4, 5)) - 2}  # fmt: skip
    out = domain_overlap(emb)
    unit = {d: e / np.linalg.norm(e, axis=1, keepdims=True) for d, e in emb.items()}
    cents = {d: u.mean(0) / np.linalg.norm(u.mean(0)) for d, u in unit.items()}
    sim = np.array([[cents[x] @ cents[y] for y in "abc"] for x in "abc"])
    assert np.allclose(out["similarity"], sim, atol=1e-12)
    margins = unit["a"] @ cents["a"] - np.maximum(unit["a"] @ cents["b"], unit["a"] @ cents["c"])
    row = out["per_domain"][0]
    assert row["nearest_rival"] == "b"
    assert row["margin_q50"] == pytest.approx(np.median(margins), abs=1e-12)
    assert row["share_negative"] == pytest.approx(np.mean(margins < 0), abs=1e-12)
    top = out["pairs"][0]
    assert {top["domain"], top["rival"]} == {"a", "b"}


def test_temperature_fit_minimises_nll_and_gives_confidence() -> None:
    rng = np.random.default_rng(2)
    cents = np.eye(3, 8)
    labels = rng.integers(0, 3, 90)
    emb = cents[labels] + rng.normal(scale=0.7, size=(90, 8))
    router = CentroidRouter(cents, ["a", "b", "c"])
    sims = router.similarities(emb)
    t = fit_temperature(sims, labels)

    def nll(temp: float) -> float:
        p = softmax(sims / temp, axis=1)
        return float(-np.mean(np.log(p[np.arange(90), labels])))

    assert nll(t) <= min(nll(t * 1.05), nll(t * 0.95)) + 1e-9
    calibrated = router.calibrate({d: emb[labels == i] for i, d in enumerate("abc")})
    routes = calibrated.route(emb[:5])
    expected = softmax(sims[:5] / calibrated.temperature, axis=1).max(axis=1)
    assert [r.confidence for r in routes] == pytest.approx(expected.tolist(), abs=1e-12)
    assert router.route(emb[:1])[0].confidence is None


def test_router_file_keeps_threshold_and_temperature(tmp_path: Path) -> None:
    router = CentroidRouter(np.eye(2, 4), ["a", "b"], threshold=0.3, temperature=0.05)
    loaded = CentroidRouter.load(router.save(tmp_path / "r.safetensors"))
    assert (loaded.threshold, loaded.temperature) == (0.3, 0.05)
    assert loaded.route(np.array([[0.1, 0.05, 1.0, 0.0]]))[0].predicted is None  # cos < 0.3


class ConstantRouter:
    """A third-party router for the test: always picks its first domain."""

    def __init__(self) -> None:
        self.domains = ["a", "b"]

    @classmethod
    def load(cls, path: str | Path) -> ConstantRouter:
        return cls()

    def route(self, embeddings: np.ndarray) -> list:
        from crma_eval.checkpoint.router import Route

        return [Route("a", 1.0, None, {"a": 1.0, "b": 0.0}) for _ in embeddings]


def test_router_registry() -> None:
    assert router_class("centroid") is CentroidRouter
    assert router_class("test_router_suite:ConstantRouter") is ConstantRouter
    with pytest.raises(InputError, match="unknown router"):
        router_class("nope")
    with pytest.raises(InputError, match="cannot import router implementation"):
        router_class("no_such_module:Thing")


def test_a_question_under_two_domains_is_refused() -> None:
    from crma_eval.errors import InputError
    from crma_eval.plugins.router.suite import build_suite

    qa = {"law": ["What is a tort?", "Define bail."], "med": ["what is  a TORT?", "Define sepsis."]}
    with pytest.raises(InputError, match="two domains"):
        build_suite(qa, ood=["Who wrote Hamlet?"])


def test_punctuation_only_queries_are_refused_with_their_line(tmp_path) -> None:
    from crma_eval.errors import InputError
    from crma_eval.plugins.router.suite import read_texts

    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "Define bail."}\n{"question": "?!..."}\n', encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_texts(path)
    assert exc.value.line == 2


def test_suite_time_is_linear_in_n_per_category() -> None:
    import time

    from crma_eval.plugins.router.suite import build_suite

    qa = {d: [f"{d} question number {i} about things?" for i in range(50)] for d in "abc"}
    ood = [f"general question {i}?" for i in range(10)]

    def seconds(n: int) -> float:
        start = time.perf_counter()
        items = build_suite(qa, ood=ood, n_per_category=n)
        assert all(any(c.isalnum() for c in item["query"]) for item in items)
        return time.perf_counter() - start

    seconds(200)  # warm up
    small, large = min(seconds(1000) for _ in range(2)), min(seconds(8000) for _ in range(2))
    assert large < 8 * 3 * small  # linear: ~8x; quadratic would be ~64x
