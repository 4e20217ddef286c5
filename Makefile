# Two entry points for a fresh machine: `make run` and `make test`. Both create .venv when it is missing.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: setup system-deps run test lint typecheck clean

$(BIN)/copilot: pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: any other spec pulls a multi-GB CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e '.[dev]'
	touch $(BIN)/copilot

setup: $(BIN)/copilot

## The live assist service on the bundled demo KB (ingested on first start, behind an open port), SQLite, local models,
## open access (no API keys: a local demo). Open http://127.0.0.1:8000/demo
run: setup
	$(BIN)/copilot serve --open-access --demo

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

## Debian packages the tests drive for real: Chromium (browser tests), espeak-ng and sox (speech),
## nginx (`nginx -t` of deploy/nginx.conf; benchmarks/scale_out.py's balancer).
SYSTEM_TOOLS := chromium espeak-ng sox nginx
system-deps:
	@missing=""; for t in $(SYSTEM_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing$$missing"; apt-get update -q && apt-get install -y -q $$missing; \
	else echo "missing$$missing: install them (apt-get install$$missing) or their tests are skipped"; fi

test: setup system-deps lint
	$(BIN)/pytest

clean:
	rm -rf $(VENV) data .mypy_cache .ruff_cache .pytest_cache
