"""The fast suite's selection: which `-m` expressions leave out every slow test, which modules are
slow as a whole, and a slow module named on the command line collects nothing in the fast suite."""

from __future__ import annotations

import os
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
        ("not slow(reason='x')", False),  # a plain `slow` test is selected
        ("not slow and " + " and ".join(f"not m{i}" for i in range(12)), True),
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
        ("import pytest as pt\npytestmark = pt.mark.slow\n", True),
        ("slow = pytest.mark.slow\npytestmark = [slow]\n", True),
        ("slow = 'pytest.mark.slow'\npytestmark = [slow]\n", False),
        ("pytestmark = pytest.mark.filterwarnings('ignore')\n", False),
        ("pytestmark = 'pytest.mark.slow'\n", False),  # text that mentions it
        ("NOTE = 'pytestmark = pytest.mark.slow'\n", False),
        ("# pytestmark = pytest.mark.slow\n", False),
        ("def f():\n    pytestmark = pytest.mark.slow\n", False),  # not the module's mark
        ("x = 1\n", False),
        (b"# -*- coding: latin-1 -*-\nx = '\xe9'\npytestmark = pytest.mark.slow\n", True),
    ],
)
def test_slow_as_a_whole_reads_the_module_mark_not_its_text(
    source: str | bytes, slow: bool
) -> None:
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


def _fast_pytest(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """pytest in the fast suite on files outside tests/, with this suite's conftest as a plugin."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tests")}
    command = [sys.executable, "-m", "pytest", "-q", "-n0", "-p", "no:cacheprovider"]
    return subprocess.run(
        [*command, "-p", "conftest", "--rootdir", str(folder), "-m", "not slow", *args],
        capture_output=True, text=True, cwd=folder, env=env, timeout=120,
    )  # fmt: skip


def test_an_unparsable_test_module_is_reported_by_name_and_the_rest_still_runs(
    tmp_path: Path,
) -> None:
    (tmp_path / "test_broken.py").write_text("def test_ok(:\n    pass\n")
    (tmp_path / "test_latin.py").write_bytes(
        b"# -*- coding: latin-1 -*-\ndef test_e():\n    assert '\xe9' == '\\u00e9'\n"
    )
    (tmp_path / "test_fine.py").write_text("def test_fine():\n    pass\n")
    files = ("test_broken.py", "test_latin.py", "test_fine.py")
    done = _fast_pytest(tmp_path, "--continue-on-collection-errors", *files)
    out = done.stdout + done.stderr
    assert "test_broken.py" in out and "2 passed" in out and "1 error" in out, out


def test_the_model_stack_is_refused_on_import_but_probes_answer() -> None:
    probe = (
        "import importlib.util, sys\n"
        f"sys.path.insert(0, {str(ROOT / 'tests')!r})\n"
        "from fastsuite import NoModelStack\n"
        "sys.meta_path.insert(0, NoModelStack())\n"
        "assert importlib.util.find_spec('torch') is not None\n"
        "try:\n    import torch.nn\nexcept ModuleNotFoundError as exc:\n    print(exc)\n"
        "assert 'torch' not in sys.modules\n"
        "import datasets  # probes for torch on import\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert "torch is not available in the fast suite: mark the test `slow`" in done.stdout
