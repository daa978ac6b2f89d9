"""Adapter configs' target_modules patterns: safe regexes pass, catastrophic ones are refused
before PEFT compiles them (no model; loading checkpoints: test_untrusted_checkpoint.py)."""

from __future__ import annotations

import pytest

from crma_eval.checkpoint.adapter_config import AdapterConfigError, check_pattern

EVIL = "(.*.*.*.*.*.*.*.*)*X"


@pytest.mark.parametrize(
    "pattern",
    [
        r".*\.(q_proj|v_proj)",
        r"^(?!.*vision).*\.(q_proj|v_proj)$",
        r"model\.layers\.\d+\.self_attn\.(q|v)_proj",
        "q_proj",
        "(ab){2,5}",
    ],
)
def test_safe_patterns_accepted(pattern: str) -> None:
    check_pattern(pattern, "target_modules")


@pytest.mark.parametrize(
    "pattern",
    [EVIL, "(a+)+$", "(a|aa)*b", "(x*)*y", r"(\w)\1", ".*.*.*.*X", "a" * 501, "(?:a{1,3}){1,9}"],
)
def test_unsafe_patterns_refused(pattern: str) -> None:
    with pytest.raises(AdapterConfigError, match="target_modules"):
        check_pattern(pattern, "target_modules")
