"""The fast suite's selection: which `-m` expressions leave out every slow test, which modules are
slow as a whole, and a slow module named on the command line collects nothing in the fast suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from fastsuite import deselects_slow, marked_slow_as_a_whole

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    ("expression", "fast"),
    [
        ("not slow", True),
        ("  not slow ", True),
        ("not slow and not browser", True),
        ("not (slow or gpu)", True),
        ("(not slow) and (gpu or not gpu)", True),
        ("not slow or slow and not slow", True),
        ("", False),
        ("slow", False),
        ("not browser", False),
        ("(not slow) or gpu", False),  # a test marked slow and gpu is selected
        ("not slow or", False),  # not an expression: pytest reports it
    ],
)
def test_fast_means_no_slow_test_can_be_selected(expression: str, fast: bool) -> None:
    assert deselects_slow(expression) is fast


@pytest.mark.parametrize(
    ("source", "slow"),
    [
        ("import pytest\npytestmark = pytest.mark.slow\n", True),
        (
            "pytestmark = [\n    pytest.mark.filterwarnings('ignore'),\n    pytest.mark.slow,\n]\n",
            True,
        ),
        ("pytestmark = (pytest.mark.slow,)\n", True),
        ("pytestmark: list = [pytest.mark.slow]\n", True),
        ("from pytest import mark\npytestmark = mark.slow(reason='a model')\n", True),
        ("pytestmark = pytest.mark.filterwarnings('ignore')\n", False),
        ("pytestmark = 'pytest.mark.slow'\n", False),  # text that mentions it
        ("NOTE = 'pytestmark = pytest.mark.slow'\n", False),
        ("# pytestmark = pytest.mark.slow\n", False),
        ("def f():\n    pytestmark = pytest.mark.slow\n", False),  # not the module's mark
        ("x = 1\n", False),
    ],
)
def test_slow_as_a_whole_reads_the_module_mark_not_its_text(source: str, slow: bool) -> None:
    assert marked_slow_as_a_whole(source) is slow


def test_a_slow_module_named_in_the_fast_suite_collects_nothing() -> None:
    slow_module = ROOT / "tests" / "checkpoint" / "test_sinkhorn.py"
    assert marked_slow_as_a_whole(slow_module.read_text(encoding="utf-8"))
    command = [sys.executable, "-m", "pytest", "-q", "-n0", "-p", "no:cacheprovider"]
    done = subprocess.run(
        [*command, "-m", "not slow and not browser", str(slow_module)],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip
    assert done.returncode == pytest.ExitCode.NO_TESTS_COLLECTED, done.stdout + done.stderr
    assert "Error" not in done.stdout + done.stderr
