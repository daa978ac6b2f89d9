"""`judge_local`: a local Hugging Face judge run through the engine (tiny in-process model)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from test_judge import ANSWERS, _write_run
from tinymodel import build_base

from crma_eval.checkpoint.basemodel import base_model_fingerprint
from crma_eval.cli import cli
from crma_eval.engine.session import EngineSession
from crma_eval.errors import InputError
from crma_eval.scorers import Item, make_scorer

pytestmark = pytest.mark.slow  # a real tiny model as the judge

ITEMS = [Item(q, ref, pred) for _, _, q, ref, pred in ANSWERS]


@pytest.fixture(scope="module")
def judge_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_base(tmp_path_factory.mktemp("judge") / "model")


def _options(model: Path, cache: Path, **extra: object) -> dict[str, object]:
    return {"model": str(model), "cache_dir": str(cache), "max_new_tokens": 6, **extra}


def _scripted(prompts: list[str]) -> list[str]:
    """A judge that says correct when the reference word is in the graded answer (the template
    fills each field in as a JSON string literal)."""
    out = []
    for prompt in prompts:
        ref = json.loads(re.search(r"Reference answer: (.*)", prompt).group(1))
        answer = json.loads(re.search(r"Answer to grade: (.*)", prompt).group(1))
        verdict = "correct" if ref.lower() in answer.lower() else "incorrect"
        out.append("garbage" if "MALFORMED" in answer else json.dumps({"verdict": verdict}))
    return out


@pytest.fixture
def generations(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Replace the engine's generation by `_scripted`; records each call's prompts."""
    calls: list[list[str]] = []

    def generate(self: EngineSession, prompts: list[str], max_new_tokens: int, stop: list[str]):
        assert stop == [] and max_new_tokens == 6
        calls.append(list(prompts))
        return _scripted(prompts)

    monkeypatch.setattr(EngineSession, "generate", generate)
    return calls


def test_random_model_output_becomes_counted_abstentions(judge_model, tmp_path) -> None:
    judge = make_scorer("judge_local", _options(judge_model, tmp_path / "c"))
    verdicts = judge.score(ITEMS)
    assert [v.value for v in verdicts] == [None] * 4  # a random model writes no JSON verdict
    assert {v.note for v in verdicts} <= {
        "malformed reply: not JSON",
        "malformed reply: no verdict correct/incorrect",
    }
    assert judge.requests == 4 and judge.session is not None
    assert not judge.session.engine.trust_remote_code
    long = make_scorer("judge_local", _options(judge_model, tmp_path / "c", max_length=16))
    (too_long,) = long.score([Item("q " * 50, "r", "p")])
    assert too_long.value is None and too_long.note.startswith("prompt too long")
    assert len(list((tmp_path / "c").rglob("*.json"))) == 4, "a too-long prompt is not cached"


def test_scripted_verdicts_identity_and_cache(judge_model, tmp_path, generations) -> None:
    judge = make_scorer("judge_local", _options(judge_model, tmp_path / "c"))
    items = [*ITEMS, ITEMS[0]]  # a repeated item is asked once
    assert [v.value for v in judge.score(items)] == [1.0, 0.0, None, 1.0, 1.0]
    assert len(generations) == 1 and len(generations[0]) == 4
    assert generations[0][0] == judge.prompt(ITEMS[0])  # the OpenAI judge's prompt template
    identity = judge.identity()
    assert identity["fingerprint"] == base_model_fingerprint(judge_model)
    assert identity["fingerprint"].startswith("local:") and len(identity["prompt_sha256"]) == 64
    again = make_scorer("judge_local", _options(judge_model, tmp_path / "c"))
    assert [v.value for v in again.score(items)] == [1.0, 0.0, None, 1.0, 1.0]
    assert len(generations) == 1 and again.cache_hits == 5 and again.session is None
    template = "Reference answer: {reference}\nAnswer to grade: {prediction}"
    other = make_scorer(
        "judge_local", _options(judge_model, tmp_path / "c", prompt_template=template)
    )
    other.score(ITEMS[:1])  # another prompt template: another cache key, asked again
    assert len(generations) == 2 and other.prompt_sha256 != judge.prompt_sha256


def test_missing_model_and_folder_revision_are_bad_input(judge_model, tmp_path) -> None:
    missing = make_scorer("judge_local", {"model": "nobody/no-such-judge-model"})
    with pytest.raises(InputError, match="nor in the local Hugging Face cache"):
        missing.score(ITEMS[:1])
    pinned = make_scorer("judge_local", _options(judge_model, tmp_path, revision="main"))
    with pytest.raises(InputError, match="revision"):
        pinned.score(ITEMS[:1])


def test_rescore_cli_with_local_judge(judge_model, tmp_path, generations) -> None:
    run_dir = tmp_path / "run"
    _write_run(run_dir)
    cfg = tmp_path / "judge.yaml"
    cfg.write_text(yaml.safe_dump({"scorers": {"judge_local": _options(judge_model, tmp_path)}}))
    args = ["rescore", str(run_dir), "--scorers", "judge_local", "--primary", "judge_local",
            "--config", str(cfg), "--json"]  # fmt: skip
    first = CliRunner().invoke(cli, args)
    assert first.exit_code == 0, first.output
    summary = json.loads(first.output)
    assert summary["abstained"]["judge_local"] == {"malformed reply: not JSON": 2}
    assert summary["judge_requests"] == 4 and len(generations) == 1  # both arms share answers
    second = CliRunner().invoke(cli, args)
    assert second.exit_code == 0, second.output
    assert json.loads(second.output)["judge_cache_hits"] == 8 and len(generations) == 1
    records = [json.loads(x) for x in (run_dir / "records" / "qa.jsonl").read_text().splitlines()]
    by_item = {r["item_id"]: r for r in records if r["arm"] == "with_crma"}
    assert by_item["q1"]["scores"]["judge_local"] == 1.0
    assert by_item["q2"]["scores"]["judge_local"] == 0.0
    assert by_item["q3"]["correct_by"] == "contains"  # the primary abstained
    assert by_item["q1"]["scores"]["exact"] == 0.0  # earlier score kept
    results = json.loads((run_dir / "results.json").read_text())
    meta = results["meta"]["scoring"]["scorers"]["judge_local"]
    assert meta["fingerprint"] == base_model_fingerprint(judge_model)
    assert results["metrics"]["qa.with_crma.scorer.judge_local.abstained"] == 1
