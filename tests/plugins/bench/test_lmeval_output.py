"""lm-eval's console output (logged warnings, progress bars, its git subprocess) goes to a log."""

from __future__ import annotations

import logging
import subprocess
import sys

from crma_eval.plugins.bench.lmeval import lm_eval_output_to


def test_lm_eval_output_goes_to_the_log(tmp_path, capfd) -> None:
    log = tmp_path / "logs" / "lm-eval.log"
    quiet = logging.getLogger("lm_eval")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # as `--quiet` leaves it: warnings still reach the log
    with lm_eval_output_to(log):
        logging.getLogger("lm_eval.models.huggingface").warning("Passed an already-initialized")
        print("Running loglikelihood requests", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-c", "import sys; sys.stderr.write('fatal: not a git repository')"],
            check=True,
        )
    print("ours", file=sys.stderr)
    err = capfd.readouterr().err
    text = log.read_text(encoding="utf-8")
    for line in ("Passed an already-initialized", "Running loglikelihood", "fatal: not a git"):
        assert line in text and line not in err
    assert "ours" in err  # restored after the block
    assert quiet.propagate and quiet.level == logging.ERROR
    quiet.setLevel(level)
