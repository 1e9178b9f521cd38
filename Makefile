# Two entry points a newcomer needs: `make demo` and `make test`. Both create .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
PORT   ?= 9877

.PHONY: demo install install-test lint mypy test unit mixin clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/pip install --quiet .

demo: install  ## run the exporter against the embedded simulator on :$(PORT)
	$(BIN)/volc-rtc-exporter --demo --web.listen-address=:$(PORT)

install-test: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test,mixin]'
	# the vendor's signer, only to cross-check ours in tests (its own dependency list is heavy)
	$(BIN)/pip install --quiet --no-deps volcengine==1.0.229

lint: install-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

mypy: install-test
	$(BIN)/mypy

unit: install-test
	$(BIN)/pytest -q

test: lint mypy unit  ## everything CI runs

mixin: install-test  ## regenerate dashboards, rules, routing, runbooks and layout pictures
	$(BIN)/volc-rtc-exporter mixin --png

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
