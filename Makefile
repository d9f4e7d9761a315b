# Two commands on a fresh machine: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUF := tools/node_modules/.bin/buf
BUF_STAMP := tools/node_modules/.installed

.PHONY: run test venv tools lock generate check-generated lint buf-lint buf-breaking \
        format typecheck typecheck-client import-lint pytest bench bench-audit bench-events clean localstripe

# Exactly the locked versions, each file checked against its hash; then the checkout's own
# packages, which bring nothing of their own (--no-deps) and build with the locked setuptools.
$(STAMP): requirements/dev.lock pyproject.toml generated/pyproject.toml clients/python/pyproject.toml \
          clients/betterproto/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements/dev.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation \
	  -e ./generated -e ./clients/python -e ./clients/betterproto -e .
	$(PY) -m pip check
	touch $(STAMP)

venv: $(STAMP)

$(BUF_STAMP): tools/package.json tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund --loglevel=error
	touch $(BUF_STAMP)

tools: $(BUF_STAMP)

## run: the service on embedded defaults (embedded PostgreSQL unless DATABASE_URL/DB_HOST,
## embedded Redis unless REDIS_URL/REDIS_HOST)
run: venv
	$(BIN)/payment-service serve --migrate

## lock: refresh requirements/*.lock from requirements/*.in and pyproject.toml, deliberately
## (LOCK_ARGS=--upgrade moves every package to its newest allowed version)
lock: venv
	$(PY) tools/lock.py $(LOCK_ARGS)

## generate: regenerate generated/ from protos/ (the Python code, the AsyncAPI document)
generate: venv
	$(PY) tools/proto_gen.py generate
	$(PY) tools/asyncapi_gen.py generate

check-generated: venv
	$(PY) tools/proto_gen.py check
	$(PY) tools/asyncapi_gen.py check

buf-lint: tools
	$(BUF) lint

# The contract must not break what is on main (and, on main itself, what came before).
buf-breaking: tools
	@if git rev-parse --verify -q main >/dev/null && git cat-file -e main:protos 2>/dev/null; then \
	  echo "buf breaking against main"; $(BUF) breaking --against '.git#branch=main'; fi
	@if git rev-parse --verify -q HEAD~1 >/dev/null && git cat-file -e HEAD~1:protos 2>/dev/null; then \
	  echo "buf breaking against HEAD~1"; $(BUF) breaking --against '.git#ref=HEAD~1'; fi

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: venv
	$(BIN)/mypy domain infra server clients tests bench

# The published clients and their examples, strictly: the grpcio one against the generated
# mypy-protobuf stubs, the betterproto2 one against its generated dataclasses.
typecheck-client: venv
	$(BIN)/mypy --config-file clients/python/pyproject.toml clients/python/payments_client \
	  examples/python
	$(BIN)/mypy --config-file clients/betterproto/pyproject.toml \
	  clients/betterproto/payments_betterproto examples/betterproto

import-lint: venv
	$(BIN)/lint-imports

lint: venv buf-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck typecheck-client import-lint

pytest: venv
	$(BIN)/pytest $(PYTEST_ARGS)

## test: everything CI checks: contract, generated code, lint, types, layering, the suite
test: venv lint check-generated buf-breaking
	$(BIN)/pytest $(PYTEST_ARGS)

## localstripe: a Stripe emulator on 127.0.0.1:8420 for trying the Stripe gateway by hand
localstripe: venv
	$(PY) -m tests.support.localstripe_launcher 8420

## bench: capacity and latency of a real server (not a test; BENCH_WORKERS=N: serve --workers N)
bench: venv
	$(PY) -m bench $(if $(BENCH_WORKERS),--workers $(BENCH_WORKERS)) $(BENCH_ARGS)

## bench-events: CPU per event of rendering its published form (the outbox does it at commit)
bench-events: venv
	$(PY) -m bench.event_render $(BENCH_ARGS)

## bench-audit: what the audit trail costs a transaction (commits with and without an entry)
bench-audit: venv
	$(PY) -m bench.audit_append $(BENCH_ARGS)

clean:
	rm -rf $(VENV) build tools/node_modules .pytest_cache .mypy_cache .ruff_cache
