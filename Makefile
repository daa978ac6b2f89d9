# crma_eval: `make test` and `make demo` create .venv/ when missing and install the project into it.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# torch: an existing torch in the venv is kept (a GPU user's build is respected). Otherwise the CPU
# build: first a local wheel in pip's find-links (no network), else PyTorch's CPU index. A plain
# `pip install torch` on Linux would pull several GB of CUDA wheels.
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
PIP := $(PY) -m pip --disable-pip-version-check
export HF_HUB_OFFLINE ?= 1
export HF_DATASETS_OFFLINE ?= 1
export TRANSFORMERS_NO_ADVISORY_WARNINGS ?= 1

.PHONY: install test test-fast lint demo bench clean browser

# The report's browser test drives Debian's chromium through chromium-driver (nothing is downloaded
# at test time). Installed when missing; CI runs as root (sudo is used when available otherwise).
SUDO := $(shell [ "$$(id -u)" != 0 ] && command -v sudo >/dev/null && echo sudo)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q \
		chromium chromium-driver; }

$(VENV)/.installed: pyproject.toml setup.py
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PIP) install -q --upgrade pip
	@$(PY) -c "import torch" 2>/dev/null || $(PIP) install -q --no-index --no-deps torch 2>/dev/null \
		|| $(PIP) install -q --no-deps torch --index-url $(TORCH_CPU_INDEX)
	$(PIP) install -q -e '.[dev,ray,export]'
	@touch $@

install: $(VENV)/.installed

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: install lint browser
	$(PY) -m pytest -q -p no:cacheprovider

# The fast suite: no model stack (tests/conftest.py refuses torch & co. under -m "not slow"; the
# collect stage runs on crma_eval.engine.fake.FakeSession). Both targets use every core (-n auto).
test-fast: install
	$(PY) -m pytest -q -p no:cacheprovider -m "not slow"

demo: install
	$(VENV)/bin/crma-eval demo --out reports/demo

bench: install
	$(PY) benchmarks/bench_analyze.py
	$(PY) benchmarks/bench_engine.py
	$(PY) benchmarks/bench_report.py
	$(PY) benchmarks/bench_scaling.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
