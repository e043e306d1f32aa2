# `make dev` runs the two-region local deployment; `make test` runs every check.
# Both create .venv when it is missing and install the project into it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WEB_STAMP := emulator/web/node_modules/.installed
AUDIT_STAMP := tests/audit/node_modules/.installed
PEER_STAMP := benchmarks/peer/node_modules/.installed
CHROMIUM := /usr/bin/chromium

.PHONY: dev test lint typecheck schema synth bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[emulator,dev,infra]'
	touch $(STAMP)

# GraphiQL's assets, served by gateway dev so that the page works offline.
$(WEB_STAMP): emulator/web/package.json emulator/web/package-lock.json
	npm ci --prefix emulator/web --no-audit --no-fund --loglevel=error
	touch $(WEB_STAMP)

# graphql-http's server audit, for an end-to-end test of POST /graphql.
$(AUDIT_STAMP): tests/audit/package.json tests/audit/package-lock.json
	npm ci --prefix tests/audit --no-audit --no-fund --loglevel=error
	touch $(AUDIT_STAMP)

# The fan-out benchmark's peer: Amplify's AppSync simulator, for make bench only.
$(PEER_STAMP): benchmarks/peer/package.json benchmarks/peer/package-lock.json
	npm ci --prefix benchmarks/peer --no-audit --no-fund --loglevel=error
	touch $(PEER_STAMP)

# Headless Chromium, for the end-to-end test of the GraphiQL page.
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null

dev: $(STAMP) $(WEB_STAMP)
	$(BIN)/gateway dev $(ARGS)

test: $(STAMP) $(WEB_STAMP) $(AUDIT_STAMP) $(CHROMIUM) lint typecheck
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

schema: $(STAMP)
	$(BIN)/python -m schema.export

# Every stack's template into cdk.out, checked by cdk-nag; no AWS account needed.
synth: $(STAMP)
	JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 $(BIN)/python -m infra.app $(ARGS)
	$(BIN)/cfn-lint cdk.out/*.template.json

# Every benchmark part, the regression guard, BENCHMARKS.md rewritten (ARGS=--no-fail:
# exit 0 even when a ratio regressed). One part alone: python -m benchmarks.run --only PART.
bench: $(STAMP) $(PEER_STAMP)
	$(BIN)/python -m benchmarks.run $(ARGS)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache cdk.out build
