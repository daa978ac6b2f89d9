"""Judge scorer and `crma-eval rescore` against a local OpenAI-compatible server (real client)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from judge_server import JudgeServer

from crma_eval.cli import cli
from crma_eval.errors import InputError
from crma_eval.scorers import Item, make_scorer
from crma_eval.scorers.builtin import token_f1
from crma_eval.scorers.judge import parse_verdict

KEY = "sk-test-SECRET-4f9a2c"
ANSWERS = [
    ("geo", "q1", "What is the capital of France?", "Paris", "It is Paris."),
    ("geo", "q2", "What is the capital of Italy?", "Rome", "Milan, I think."),
    ("geo", "q3", "Capital of France?", "Paris", "MALFORMED reply please"),
    ("geo", "q4", "France's capital?", "Paris", "RATE Paris"),
]


def _judge_options(server: JudgeServer, cache: Path, **extra: object) -> dict[str, object]:
    return {
        "base_url": server.base_url,
        "model": "tiny-judge",
        "api_key_env": "JUDGE_API_KEY",
        "cache_dir": str(cache),
        "max_retries": 2,
        "timeout_s": 5,
        **extra,
    }


def test_parse_verdict_is_strict() -> None:
    assert parse_verdict('{"verdict": "correct", "reason": "ok"}').value == 1.0
    assert parse_verdict(' {"verdict": "incorrect"} ').value == 0.0
    for bad in ["", "correct", '{"verdict": "yes"}', "[1]", '```json\n{"verdict":"correct"}```']:
        verdict = parse_verdict(bad)
        assert verdict.value is None and verdict.note.startswith("malformed")


def test_token_f1_matches_squad_definition() -> None:
    # prediction tokens [paris, is, capital], reference [paris]: P = 1/3, R = 1 -> F1 = 0.5
    assert token_f1("Paris is the capital.", "The Paris") == pytest.approx(0.5)
    assert token_f1("", "") == 1.0 and token_f1("x", "") == 0.0


def test_judge_verdicts_malformed_429_timeout_and_cache(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("JUDGE_API_KEY", KEY)
    items = [Item(q, ref, pred) for _, _, q, ref, pred in ANSWERS]
    with JudgeServer(slow_s=2.0) as server:
        judge = make_scorer("judge", _judge_options(server, tmp_path / "cache"))
        verdicts = judge.score(items)
        assert [v.value for v in verdicts] == [1.0, 0.0, None, 1.0]  # 429 retried, then correct
        assert verdicts[2].note.startswith("malformed")
        assert server.requests == 5  # four items + one retry after the 429
        assert set(server.auth_headers) == {f"Bearer {KEY}"}
        assert all(b["temperature"] == 0 for b in server.bodies)
        again = make_scorer("judge", _judge_options(server, tmp_path / "cache"))
        assert [v.value for v in again.score(items)] == [1.0, 0.0, None, 1.0]
        assert server.requests == 5 and again.cache_hits == 4  # answered from the cache
        slow = make_scorer(
            "judge", _judge_options(server, tmp_path / "cache", timeout_s=0.2, max_retries=0)
        )
        (timed_out,) = slow.score([Item("q", "Paris", "SLOW Paris")])
        assert timed_out.value is None and "Timeout" in timed_out.note
        assert not list((tmp_path / "cache").rglob("*.json"))[4:], "a failure must not be cached"


def test_missing_key_variable_is_bad_input(tmp_path, monkeypatch) -> None:
    monkeypatch.delenv("NO_SUCH_KEY_VAR", raising=False)
    options = {"base_url": "http://127.0.0.1:9/v1", "model": "m", "cache_dir": str(tmp_path)}
    judge = make_scorer("judge", options | {"api_key_env": "NO_SUCH_KEY_VAR"})
    with pytest.raises(InputError, match="NO_SUCH_KEY_VAR"):
        judge.score([Item("q", "r", "p")])


def _write_run(run_dir: Path) -> None:
    lines = []
    for arm in ("with_crma", "without_crma"):
        for domain, item_id, q, ref, pred in ANSWERS:
            correct = ref.lower() in pred.lower()
            lines.append(
                json.dumps(
                    {
                        "kind": "qa",
                        "arm": arm,
                        "domain": domain,
                        "item_id": item_id,
                        "correct": correct,
                        "question": q,
                        "reference": ref,
                        "prediction": pred,
                        "scores": {"exact": float(pred == ref)},
                        "verdicts": {"exact": pred == ref},
                    }
                )
            )
    (run_dir / "records").mkdir(parents=True)
    (run_dir / "records" / "qa.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_rescore_cli_judge_and_token_f1(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("JUDGE_API_KEY", KEY)
    run_dir = tmp_path / "run"
    _write_run(run_dir)
    runner = CliRunner()
    with JudgeServer() as server:
        cfg = tmp_path / "judge.yaml"
        cfg.write_text(
            yaml.safe_dump({"scorers": {"judge": _judge_options(server, tmp_path / "c")}})
        )
        args = ["rescore", str(run_dir), "--scorers", "judge,token_f1", "--primary", "judge",
                "--config", str(cfg), "--json"]  # fmt: skip
        first = runner.invoke(cli, args)
        assert first.exit_code == 0, first.output
        summary = json.loads(first.output)
        assert summary["abstained"]["judge"] == {"malformed reply: not JSON": 2}
        assert server.requests == 5  # 4 distinct answers (+1 retry); both arms share them
        n_before = server.requests
        second = runner.invoke(cli, args)
        assert second.exit_code == 0, second.output
        assert server.requests == n_before and json.loads(second.output)["judge_cache_hits"] == 8
    records = [json.loads(x) for x in (run_dir / "records" / "qa.jsonl").read_text().splitlines()]
    by_item = {r["item_id"]: r for r in records if r["arm"] == "with_crma"}
    assert by_item["q1"]["scores"]["judge"] == 1.0 and by_item["q2"]["scores"]["judge"] == 0.0
    assert by_item["q3"]["scores"]["judge"] is None and "judge" in by_item["q3"]["abstained"]
    assert by_item["q3"]["correct_by"] == "contains"  # primary abstained: the rule decides
    assert by_item["q1"]["scores"]["exact"] == 0.0  # earlier score kept
    assert by_item["q1"]["scores"]["token_f1"] == pytest.approx(token_f1("It is Paris.", "Paris"))
    assert all(r["primary"] == "judge" for r in records)
    results = json.loads((run_dir / "results.json").read_text())
    judge_meta = results["meta"]["scoring"]["scorers"]["judge"]
    assert judge_meta["model"] == "tiny-judge" and len(judge_meta["prompt_sha256"]) == 64
    assert results["metrics"]["qa.with_crma.scorer.judge.abstained"] == 1
    assert results["metrics"]["qa.with_crma.scorer.judge.n"] == 3
    assert "Scorer agreement" in (run_dir / "report.html").read_text()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and not [p for p in written if KEY in p.read_text(errors="ignore")]


def test_rescore_unknown_scorer_exits_2(tmp_path) -> None:
    run_dir = tmp_path / "run"
    _write_run(run_dir)
    result = CliRunner().invoke(cli, ["rescore", str(run_dir), "--scorers", "nope"])
    assert result.exit_code == 2 and "unknown scorer 'nope'" in result.output
