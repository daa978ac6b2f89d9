"""The wheel, installed into a fresh venv outside the repository, works from another folder.

Builds the wheel, installs it into a new venv under the temp root (torch first from the same source
as the Makefile: a local wheel in pip's find-links, else PyTorch's CPU index; the other
dependencies as pip resolves them, from its cache), and from a folder that is neither the
repository nor the venv runs `--help`, `demo --small`, `router-suite`, `init`, `plugins`,
`tasks-path` and plain `lm_eval --include_path "$(crma-eval tasks-path)" --tasks gsm8k_crma` on
the demo's tiny base model (GSM8K itself from a local datasets cache: no network).

Measured on the shared 2-core machine: see the README ("Installing"). The installed package must
not read anything from the repository: the repository is not on sys.path and the cwd is elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TORCH_CPU_INDEX = "https://download.pytorch.org/whl/cpu"

# Builds a wheel and installs it into a fresh virtual environment (minutes): `make test` only.
pytestmark = pytest.mark.slow


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    done = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, f"{cmd}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def _clean_env(home: Path) -> dict[str, str]:
    """The environment of a user: no PYTHONPATH into the repo, offline libraries, own HF cache."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "VIRTUAL_ENV"))}
    env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HOME=str(home / "hf"))
    env["PATH"] = f"{home / 'venv' / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    return env


def _build_wheel(dist: Path) -> Path:
    """`pip wheel` of the repository (no build isolation when setuptools is already here)."""
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(REPO)]
    try:
        import setuptools  # noqa: F401

        cmd.insert(4, "--no-build-isolation")
    except ImportError:
        pass
    leftovers = [p for p in (REPO / "build", REPO / "crma_eval.egg-info") if not p.exists()]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=600)
    finally:  # a stale egg-info in the repository would shadow the installed entry points
        for path in leftovers:
            shutil.rmtree(path, ignore_errors=True)
    (wheel,) = dist.glob("crma_eval-*.whl")
    return wheel


def _install(wheel: Path, home: Path, env: dict[str, str]) -> Path:
    venv.EnvBuilder(with_pip=True).create(home / "venv")
    pip = [str(home / "venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--no-compile"]
    local = subprocess.run([*pip, "--no-index", "--no-deps", "torch"], env=env, check=False)
    if local.returncode != 0:
        _run([*pip, "--no-deps", "torch", "--index-url", TORCH_CPU_INDEX], home, env)
    _run([*pip, str(wheel)], home, env)
    return home / "venv" / "bin"


def _gsm8k_cache(home: Path, python: Path, env: dict[str, str]) -> None:
    """A local datasets cache entry for openai/gsm8k (config main, 3 problems), so lm-eval's own
    loading of the task's dataset works offline exactly as with the downloaded data."""
    script = f"""
import json, shutil
from pathlib import Path
import datasets
rows = [{{"question": f"Tom has {{i}} apples and buys 2 more. How many apples?",
          "answer": f"{{i}} + 2 = {{i + 2}}\\n#### {{i + 2}}"}} for i in range(3)]
root = Path({str(home / "gsm8k")!r})
files = {{}}
for split in ("train", "test"):
    files[split] = str(root / f"{{split}}.jsonl")
    root.mkdir(parents=True, exist_ok=True)
    Path(files[split]).write_text("".join(json.dumps(r) + "\\n" for r in rows))
builder = datasets.load_dataset_builder("json", data_files=files, cache_dir=str(root / "tmp"))
builder.download_and_prepare()
built = Path(builder.cache_dir)
dest = Path(datasets.config.HF_DATASETS_CACHE) / "openai___gsm8k" / "main" / "0.0.0" / built.name
dest.parent.mkdir(parents=True, exist_ok=True)
shutil.move(str(built), dest)
for arrow in dest.glob("json-*.arrow"):
    arrow.rename(arrow.with_name(arrow.name.replace("json-", "gsm8k-")))
info = json.loads((dest / "dataset_info.json").read_text())
info.update(config_name="main", dataset_name="gsm8k")
(dest / "dataset_info.json").write_text(json.dumps(info))
"""
    _run([str(python), "-c", script], home, env)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    home = tmp_path_factory.mktemp("installed")
    assert not home.resolve().is_relative_to(REPO)
    env = _clean_env(home)
    bin_dir = _install(_build_wheel(home / "dist"), home, env)
    work = home / "work"
    work.mkdir()
    return bin_dir, work, env


@pytest.fixture(scope="module")
def demo(installed) -> str:
    """`crma-eval demo --small` of the installed package, run in the work folder: its output."""
    bin_dir, work, env = installed
    return _run(
        [str(bin_dir / "crma-eval"), "demo", "--small", "--out", "demo", "--quiet"], work, env
    )


def test_installed_package_runs_every_first_hour_verb_from_another_folder(installed, demo) -> None:
    bin_dir, work, env = installed
    cli = str(bin_dir / "crma-eval")
    assert "tasks-path" in _run([cli, "--help"], work, env)
    tasks = Path(_run([cli, "tasks-path"], work, env).strip())
    assert (
        tasks.is_relative_to(bin_dir.parent)
        and (tasks / "gsm8k_crma" / "gsm8k_crma.yaml").is_file()
    )
    assert (tasks / "router_stress" / "ood.jsonl").is_file()
    # The guides the README links ship inside the package, one per docs/*.md of the source tree.
    guide = Path(_run([cli, "docs", "bench", "--path"], work, env).strip())
    assert guide.is_relative_to(bin_dir.parent) and guide.read_text("utf-8").startswith("# ")
    listed = _run([cli, "docs"], work, env)
    assert all(md.stem in listed for md in (REPO / "docs").glob("*.md"))

    plugins = json.loads(_run([cli, "plugins", "--json"], work, env))
    assert {"qa", "ablation", "drift", "router", "spectral", "bench"} <= {
        p["name"] for p in plugins
    }

    assert "smoke" in demo.lower()
    assert (work / "demo" / "report.html").is_file()

    qa = {}
    for domain in ("cooking", "astronomy"):
        qa[domain] = work / f"{domain}.jsonl"
        qa[domain].write_text(
            "".join(
                json.dumps({"question": f"A {domain} question number {i}?"}) + "\n"
                for i in range(6)
            )
        )
    args = [f"{d}={p.name}" for d, p in qa.items()]
    _run([cli, "router-suite", "--qa", args[0], "--qa", args[1], "--out", "suite.jsonl"], work, env)
    suite = [json.loads(line) for line in (work / "suite.jsonl").read_text().splitlines()]
    ood = {json.loads(r)["question"] for r in (tasks / "router_stress" / "ood.jsonl").open()}
    assert {r["category"] for r in suite} >= {"in_domain", "ood"}
    assert all(r["query"] in ood for r in suite if r["category"] == "ood")

    _run([cli, "init", "--checkpoints", "demo/build/checkpoints/*", "--out", "myeval"], work, env)
    config = (work / "myeval" / "crma-eval.yaml").read_text()
    assert "adapter: router" in config and "# bench:" in config


def test_plain_lm_eval_finds_gsm8k_crma_in_the_installed_package(installed, demo) -> None:
    bin_dir, work, env = installed
    base = work / "demo" / "build" / "base"  # the demo's tiny Llama and its tokenizer
    _gsm8k_cache(work.parent, bin_dir / "python", env)
    tasks = _run([str(bin_dir / "crma-eval"), "tasks-path"], work, env).strip()
    cmd = [str(bin_dir / "lm_eval"), "--model", "hf", "--model_args", f"pretrained={base}"]
    cmd += ["--include_path", tasks, "--tasks", "gsm8k_crma", "--num_fewshot", "0"]
    cmd += ["--gen_kwargs", "max_gen_toks=8", "--output_path", "lm-out", "--log_samples"]
    out = _run(cmd, work, env)
    assert "crma-corrected" in out and "strict-match" in out and "flexible-extract" in out
    (results,) = (work / "lm-out").rglob("results_*.json")
    scores = json.loads(results.read_text())["results"]["gsm8k_crma"]
    assert "exact_match,crma-corrected" in scores
    (samples,) = (work / "lm-out").rglob("samples_gsm8k_crma_*.jsonl")
    rows = [json.loads(line) for line in samples.read_text().splitlines()]
    assert {r["filter"] for r in rows} == {"strict-match", "flexible-extract", "crma-corrected"}
    assert len({r["doc_id"] for r in rows}) == 3
