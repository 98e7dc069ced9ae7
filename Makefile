# One entry point for people and CI. Each target creates .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: test demo check lint typecheck bench clean browser serve screenshots fuzz

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck

# The browser tests drive the system's Chromium (Playwright's own download cannot reach
# its host here): install Debian's package when it is missing and we may.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; \
	  else echo "not root and no sudo: cannot install chromium; the browser tests will skip"; exit 0; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null \
	    || echo "could not install chromium; the browser tests will skip (or fail under CI)"; }

test: check browser
	HYPOTHESIS_PROFILE=ci NUMBA_ENABLE_CUDASIM=1 $(BIN)/python -m pytest

# The property tests with fresh random seeds (FUZZ_RUNS runs of 400 examples each): a
# green `make test` draws one fixed set of examples; this draws new ones every run.
FUZZ_RUNS ?= 3
fuzz: $(STAMP)
	@for run in $$(seq $(FUZZ_RUNS)); do \
	  seed=$$(od -An -N4 -tu4 /dev/urandom | tr -d ' '); echo "fuzz run $$run: --hypothesis-seed=$$seed"; \
	  HYPOTHESIS_PROFILE=fuzz NUMBA_ENABLE_CUDASIM=1 $(BIN)/python -m pytest -p no:cacheprovider \
	    --hypothesis-seed=$$seed tests/formulas tests/engine tests/risk tests/parity tests/sim \
	    -k "not dask and not browser" || exit 1; \
	done

demo: $(STAMP)
	$(BIN)/python -m perpmargin.demo

serve: $(STAMP)
	$(BIN)/perpmargin serve

screenshots: $(STAMP) browser
	$(BIN)/python scripts/screenshots.py

bench: $(STAMP)
	$(BIN)/python benchmarks/engine.py
	$(BIN)/python benchmarks/replay.py
	$(BIN)/python benchmarks/web.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
