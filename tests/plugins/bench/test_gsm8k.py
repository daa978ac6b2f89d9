"""Corrected GSM8K scorer: the extractor on free-form habits, and its lm-eval filter and task."""

from __future__ import annotations

import string

import pytest
from _bench_fixtures import GSM8K_YAML, REPO, gsm8k_docs, tiny_model, write_gsm8k_task
from hypothesis import assume, given
from hypothesis import strategies as st

from crma_eval.plugins.bench.gsm8k import extract_final_answer

# Each case is a different habit of fine-tuned models (text -> expected canonical answer).
HABITS = [
    ("gsm8k_hashes", "48/2 = <<48/2=24>>24 clips in May.\n48+24 = <<48+24=72>>72\n#### 72", "72"),
    ("hashes_thousands", "Total: 1,000 + 250\n#### 1,250", "1250"),
    ("answer_is", "She needs 5 more. The answer is 5.", "5"),
    ("answer_is_colon", "The answer is: 64", "64"),
    ("answer_label", "Answer: 3.5", "3.5"),
    ("short_a_label", "A: 12", "12"),
    ("final_answer", "Step 1: 6 * 7 = 42\nStep 2: 42 - 2 = 40\nFinal answer: 40", "40"),
    ("minerva_format", "Final Answer: The final answer is $18$. I hope it is correct.", "18"),
    ("boxed", "Adding up gives \\boxed{125}.", "125"),
    ("boxed_currency_latex", "The cost is $\\boxed{\\$1,250.00}$", "1250"),
    ("boxed_fraction", "So the share is \\boxed{\\frac{3}{4}}.", "0.75"),
    ("bold", "The answer is **18** dollars.", "18"),
    ("bold_label", "**Answer:** **$7**", "7"),
    ("currency_cents", "The answer is $1,250.50 per month.", "1250.5"),
    ("euro", "The answer is €30.", "30"),
    ("trailing_zero_decimal", "The answer is 1,250.00", "1250"),
    ("percent", "The answer is 25%.", "25"),
    ("unit_hours", "The answer is 3.5 hours.", "3.5"),
    ("negative", "The temperature change is -4 degrees, so the answer is -4.", "-4"),
    ("unicode_minus", "The answer is −4.", "-4"),
    ("negative_currency", "Her balance is -$15. The answer is -$15.", "-15"),
    (
        "restated_question",
        "The answer is 18.\n\nQuestion: A robe takes 2 bolts of blue fiber.",
        "18",
    ),
    (
        "restated_question_no_cue",
        "Janet makes 9 * 2 = $18 every day.\nQuestion: Tom has 3 cats and 4 dogs. How many?",
        "18",
    ),
    (
        "explanation_after_answer",
        "The answer is 18. This is because she had 16 eggs, ate 3 and baked 4, leaving 9.",
        "18",
    ),
    ("explanation_no_cue", "She makes $18 a day. This is because 9 eggs sell at $2 each.", "18"),
    (
        "parenthetical_check",
        "So she makes $18 a day. (Check: 9 eggs × $2 = $18; 16 - 7 = 9.)",
        "18",
    ),
    ("expression_after_cue", "The answer is 5 + 7 = 12.", "12"),
    ("self_correction", "The answer is 40. Wait, I forgot the 2 spare. The answer is 42.", "42"),
    ("conclusion_so", "16 - 3 - 4 = 9 eggs are left, so she makes 9 * 2 = $18.", "18"),
    (
        "total_is",
        "Therefore, the total cost is $1,250.00. Note that the 5% tax is not included.",
        "1250",
    ),
    (
        "calculator_annotations",
        "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\n"
        "She makes 9 * 2 = $<<9*2=18>>18 every day at the farmer's market.",
        "18",
    ),
    (
        "numbered_steps",
        "1. The ducks lay 16 eggs.\n2. She uses 7.\n3. So 9 are sold.\n4. She earns $18.",
        "18",
    ),
    ("bare_first_line", "18\n\nShe has 16 eggs, eats 3 and bakes 4, so 9 remain.", "18"),
    (
        "bare_first_line_unit",
        "$18 per day\nShe sells 16 - 3 - 4 = 9 eggs, so 9 remain to sell.",
        "18",
    ),
    ("word_number", "The answer is twenty-five.", "25"),
    ("word_number_hundreds", "The answer is one hundred and five", "105"),
    ("chat_end_token", "The answer is 72.<|im_end|>\nQuestion 2: what is 99?", "72"),
    ("leading_restated_question", "Question: How many eggs?\nAnswer: 13\nQuestion: next, 5?", "13"),
    ("thin_space_thousands", "The total is 1\u2009250 apples.", "1250"),
    ("latex_inline_math", "Thus we get \\(x = 14\\) marbles.", "14"),
    ("zero", "The answer is 0.", "0"),
]

# Text that gives no answer: the extractor must not invent one.
NO_ANSWER = [
    ("empty", ""),
    ("whitespace", "   \n  "),
    ("no_numbers", "I am not sure how to solve this problem."),
    ("dont_know", "I don't know the answer to 16 eggs minus 3."),
    ("cannot_determine", "The answer cannot be determined from the 2 facts given."),
    ("cue_without_number", "The answer is unknown because we lack the 5 prices."),
    ("only_restated_question", "Question: Janet's ducks lay 16 eggs per day. How many are left?"),
    ("ends_with_question", "Janet has 16 eggs. She eats 3. How many does she have left?"),
    ("empty_boxed", "\\boxed{}"),
]


@pytest.mark.parametrize(("habit", "text", "expected"), HABITS, ids=[h[0] for h in HABITS])
def test_extracts_final_answer_of_each_habit(habit: str, text: str, expected: str) -> None:
    assert extract_final_answer(text) == expected


@pytest.mark.parametrize(("case", "text"), NO_ANSWER, ids=[c[0] for c in NO_ANSWER])
def test_never_invents_an_answer(case: str, text: str) -> None:
    assert extract_final_answer(text) is None


def test_none_and_non_text_have_no_answer() -> None:
    assert extract_final_answer(None) is None
    assert extract_final_answer(42) is None  # type: ignore[arg-type]


@given(
    st.integers(-(10**9), 10**9),
    st.sampled_from(
        ["The answer is {}.", "#### {}", "\\boxed{{{}}}", "Final answer: **{}** apples"]
    ),
)
def test_any_integer_round_trips_with_separators(value: int, template: str) -> None:
    assert extract_final_answer(template.format(f"{value:,}")) == str(value)


@given(st.text(alphabet=string.ascii_letters + " .,!?:\n", max_size=80))
def test_text_without_numbers_gives_none(text: str) -> None:
    words = (
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
        "ten",
        "eleven",
        "twelve",
        "teen",
        "twenty",
        "thirty",
        "forty",
        "fifty",
        "sixty",
        "seventy",
        "eighty",
        "ninety",
        "hundred",
        "thousand",
        "million",
    )
    assume(not any(w in text.lower() for w in words))
    assert extract_final_answer(text) is None


# --- the filter inside lm-eval -------------------------------------------------------------------


@pytest.fixture(scope="module")
def lm_eval_api():
    from lm_eval.api.model import LM
    from lm_eval.api.registry import get_filter
    from lm_eval.evaluator import simple_evaluate
    from lm_eval.tasks import TaskManager

    return LM, get_filter, simple_evaluate, TaskManager


def _scripted(lm_base: type, answers: dict[str, str]):
    class ScriptedLM(lm_base):
        """Answers each question with a prepared text (what a fine-tuned model wrote)."""

        def loglikelihood(self, requests):
            raise NotImplementedError

        def loglikelihood_rolling(self, requests):
            raise NotImplementedError

        def generate_until(self, requests):
            return [answers[r.doc["question"]] for r in requests]

    return ScriptedLM()


def _per_filter(samples: list[dict]) -> dict[str, dict[int, dict]]:
    out: dict[str, dict[int, dict]] = {}
    for s in samples:
        out.setdefault(s["filter"], {})[s["doc_id"]] = s
    return out


@pytest.mark.slow  # lm-eval with torch / a real tiny model
def test_filter_is_registered_by_name(lm_eval_api) -> None:
    from crma_eval.plugins.bench.gsm8k.filter import FILTER_NAME, FinalAnswerFilter

    _, get_filter, _, _ = lm_eval_api
    assert get_filter(FILTER_NAME) is FinalAnswerFilter
    out = FinalAnswerFilter().apply([["The answer is $1,250."], ["no idea"]], [{}, {}])
    assert out == [["1250"], ["[invalid]"]]


@pytest.mark.slow  # lm-eval with torch / a real tiny model
def test_shipped_task_is_found_in_include_path(lm_eval_api) -> None:
    from lm_eval.tasks._yaml_loader import load_yaml

    _, _, _, task_manager = lm_eval_api
    manager = task_manager(include_path=str(REPO / "tasks"), include_defaults=False)
    assert "gsm8k_crma" in manager.all_tasks
    config = load_yaml(GSM8K_YAML)
    names = [f["name"] for f in config["filter_list"]]
    assert names == ["strict-match", "flexible-extract", "crma-corrected"]
    from crma_eval.plugins.bench.gsm8k.filter import FinalAnswerFilter

    assert config["filter_list"][2]["filter"][0]["function"] is FinalAnswerFilter


@pytest.mark.slow  # lm-eval with torch / a real tiny model
def test_lm_eval_scores_three_filters_side_by_side(lm_eval_api, tmp_path) -> None:
    lm_base, _, simple_evaluate, task_manager = lm_eval_api
    docs = gsm8k_docs(5)
    written = [
        f"{docs[0]['answer']}",  # the trained #### format: every scorer agrees
        "The answer is 2,250.",  # no ####: strict-match fails
        "The answer is **3,250** nails. The shop had 3 boxes and 250 loose ones.",
        "\\boxed{4250}",
        "I don't know.",
    ]
    answers = {d["question"]: w for d, w in zip(docs, written, strict=True)}
    write_gsm8k_task(tmp_path, "gsm8k_local", docs)
    manager = task_manager(include_path=str(tmp_path), include_defaults=False)
    result = simple_evaluate(
        model=_scripted(lm_base, answers),
        tasks=["gsm8k_local"],
        task_manager=manager,
        log_samples=True,
        bootstrap_iters=0,
    )
    by_filter = _per_filter(result["samples"]["gsm8k_local"])
    assert set(by_filter) == {"strict-match", "flexible-extract", "crma-corrected"}
    ours = by_filter["crma-corrected"]
    assert [ours[i]["filtered_resps"][0] for i in range(5)] == [
        "1250",
        "2250",
        "3250",
        "4250",
        "[invalid]",
    ]
    assert [ours[i]["exact_match"] for i in range(5)] == [1.0, 1.0, 1.0, 1.0, 0.0]
    strict = by_filter["strict-match"]
    assert [strict[i]["exact_match"] for i in range(5)] == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert by_filter["flexible-extract"][2]["exact_match"] == 0.0  # took the trailing "250"


@pytest.mark.slow  # lm-eval with torch / a real tiny model
def test_filter_runs_on_a_real_model_through_hflm(lm_eval_api, tmp_path) -> None:
    from lm_eval.models.huggingface import HFLM

    _, _, simple_evaluate, task_manager = lm_eval_api
    model, tokenizer = tiny_model()
    write_gsm8k_task(tmp_path, "gsm8k_tiny", gsm8k_docs(3))
    manager = task_manager(include_path=str(tmp_path), include_defaults=False)
    lm = HFLM(pretrained=model, tokenizer=tokenizer, batch_size=2)
    result = simple_evaluate(
        model=lm, tasks=["gsm8k_tiny"], task_manager=manager, log_samples=True, bootstrap_iters=0
    )
    ours = _per_filter(result["samples"]["gsm8k_tiny"])["crma-corrected"]
    assert len(ours) == 3
    for sample in ours.values():
        expected = extract_final_answer(sample["resps"][0][0]) or "[invalid]"
        assert sample["filtered_resps"][0] == expected


@pytest.mark.slow  # lm-eval with torch / a real tiny model
def test_corrected_pipeline_reads_mixed_numbers_and_canonical_targets(
    lm_eval_api, tmp_path
) -> None:
    lm_base, _, simple_evaluate, task_manager = lm_eval_api
    # (gold as GSM8K writes it, what the model wrote, corrected right?, strict-match right?)
    cases = [
        ("#### 2", "Each batch needs 1/3 cup, so she needs 2 2/3 cups.", 0.0, 0.0),
        ("#### 4", "#### 4 1/2", 0.0, 1.0),  # lm-eval's strict regex stops at the space
        ("#### 3.50", "#### 3.5", 1.0, 0.0),  # targets pass through the canonical form too
        ("#### 3.5", "The answer is $3.50.", 1.0, 0.0),
        ("#### $3.50", "The answer is 3.5 dollars.", 1.0, 0.0),
        ("#### 1,250", "The answer is 1 250 apples.", 1.0, 0.0),
        ("#### 0.5", "The answer is .5", 1.0, 0.0),
        ("#### 2", "The answer is 2-1/2 cups.", 0.0, 0.0),  # ambiguous: no answer
    ]
    docs = [
        {"question": f"Question number {i}: how much?", "answer": f"Worked.\n{gold}"}
        for i, (gold, _, _, _) in enumerate(cases)
    ]
    answers = {d["question"]: c[1] for d, c in zip(docs, cases, strict=True)}
    write_gsm8k_task(tmp_path, "gsm8k_forms", docs)
    result = simple_evaluate(
        model=_scripted(lm_base, answers),
        tasks=["gsm8k_forms"],
        task_manager=task_manager(include_path=str(tmp_path), include_defaults=False),
        log_samples=True,
        bootstrap_iters=0,
    )
    by_filter = _per_filter(result["samples"]["gsm8k_forms"])
    ours, strict = by_filter["crma-corrected"], by_filter["strict-match"]
    assert [ours[i]["filtered_resps"][0] for i in range(len(cases))] == [
        "8/3",
        "4.5",
        "3.5",
        "3.5",
        "3.5",
        "1250",
        "0.5",
        "[invalid]",
    ]
    assert [ours[i]["exact_match"] for i in range(len(cases))] == [c[2] for c in cases]
    assert [strict[i]["exact_match"] for i in range(len(cases))] == [c[3] for c in cases]
    assert result["results"]["gsm8k_forms"]["exact_match,crma-corrected"] == pytest.approx(5 / 8)


def test_canonical_answer_casts_targets_like_predictions() -> None:
    from crma_eval.plugins.bench.gsm8k.filter import CanonicalAnswer

    assert CanonicalAnswer("Worked.\n#### 3.50") == CanonicalAnswer("$3.5") == "3.5"
    assert CanonicalAnswer(CanonicalAnswer("#### 1,250")) == "1250"  # idempotent
    assert CanonicalAnswer("no number") == "no number"  # never equals the fallback
