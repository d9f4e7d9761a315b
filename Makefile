# Two commands on a fresh machine: `make run` and `make test`. Everything else is a helper.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BUF := tools/node_modules/.bin/buf
BUF_STAMP := tools/node_modules/.installed
TS_CLIENT := clients/typescript
TS_EXAMPLE := examples/typescript
TS_STAMP := $(TS_CLIENT)/node_modules/.installed
TS_EXAMPLE_STAMP := $(TS_EXAMPLE)/node_modules/.installed
NPM_CI := npm ci --no-audit --no-fund --loglevel=error

.PHONY: run test venv tools lock generate check-generated lint buf-lint buf-breaking \
        format typecheck typecheck-client import-lint pytest bench bench-audit bench-events clean localstripe \
        typescript-deps typescript

# Exactly the locked versions, each file checked against its hash; then the checkout's own
# packages, which bring nothing of their own (--no-deps) and build with the locked setuptools.
$(STAMP): requirements/dev.lock pyproject.toml generated/pyproject.toml clients/python/pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --require-hashes --no-deps -r requirements/dev.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation \
	  -e ./generated -e ./clients/python -e .
	$(PY) -m pip check
	touch $(STAMP)

venv: $(STAMP)

$(BUF_STAMP): tools/package.json tools/package-lock.json
	npm ci --prefix tools --no-audit --no-fund --loglevel=error
	touch $(BUF_STAMP)

tools: $(BUF_STAMP)

# The TypeScript client's locked packages (protoc-gen-es among them), then the example's,
# which takes the client from its directory (file:../../clients/typescript).
$(TS_STAMP): $(TS_CLIENT)/package.json $(TS_CLIENT)/package-lock.json
	$(NPM_CI) --prefix $(TS_CLIENT)
	touch $(TS_STAMP)

$(TS_EXAMPLE_STAMP): $(TS_EXAMPLE)/package.json $(TS_EXAMPLE)/package-lock.json $(TS_STAMP)
	$(NPM_CI) --prefix $(TS_EXAMPLE)
	touch $(TS_EXAMPLE_STAMP)

typescript-deps: $(TS_STAMP) $(TS_EXAMPLE_STAMP)

## typescript: compile the TypeScript client and its example (tsc; dist/ is not committed)
typescript: typescript-deps
	npm run --prefix $(TS_CLIENT) --silent build
	npm run --prefix $(TS_EXAMPLE) --silent build

## run: the service on embedded defaults (embedded PostgreSQL unless DATABASE_URL/DB_HOST,
## embedded Redis unless REDIS_URL/REDIS_HOST)
run: venv
	$(BIN)/payment-service serve --migrate

## lock: refresh requirements/*.lock from requirements/*.in and pyproject.toml, deliberately
## (LOCK_ARGS=--upgrade moves every package to its newest allowed version)
lock: venv
	$(PY) tools/lock.py $(LOCK_ARGS)

## generate: regenerate generated/ from protos/ (the Python code, the AsyncAPI document) and
## the TypeScript client's clients/typescript/src/gen
generate: venv tools $(TS_STAMP)
	$(PY) tools/proto_gen.py generate
	$(PY) tools/asyncapi_gen.py generate
	$(PY) tools/ts_gen.py generate

check-generated: venv tools $(TS_STAMP)
	$(PY) tools/proto_gen.py check
	$(PY) tools/asyncapi_gen.py check
	$(PY) tools/ts_gen.py check

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

# The published client and its example, strictly, against the generated mypy-protobuf stubs.
typecheck-client: venv
	$(BIN)/mypy --config-file clients/python/pyproject.toml clients/python/payments_client \
	  examples/python

import-lint: venv
	$(BIN)/lint-imports

lint: venv buf-lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(MAKE) --no-print-directory typecheck typecheck-client import-lint

pytest: venv
	$(BIN)/pytest $(PYTEST_ARGS)

## test: everything CI checks: contract, generated code, lint, types, layering, the suite
## (which runs the TypeScript client's npm test and example against a started server)
test: venv lint check-generated buf-breaking typescript
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
	rm -rf $(VENV) build tools/node_modules .pytest_cache .mypy_cache .ruff_cache \
	  $(TS_CLIENT)/node_modules $(TS_CLIENT)/dist $(TS_EXAMPLE)/node_modules $(TS_EXAMPLE)/dist
