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
        format typecheck typecheck-client import-lint pytest bench bench-audit bench-events bench-calls bench-analytics bench-metrics bench-rules chaos clean localstripe \
        check-version sync-version dist release release-image typescript-deps typescript

# The contract's version (tools/version.py keeps every package at it) and the last released
# contract: the newest committed image under release/ (`make release` writes one).
VERSION := $(shell cat VERSION)
RELEASED_IMAGE := $(lastword $(shell ls release/v*.binpb 2>/dev/null | sort -V))

# What `make dist` builds into dist/, one line per package: a directory with a pyproject.toml
# (wheel + sdist, `twine check`) or with a package.json (`npm pack --dry-run`, then the tarball).
PY_PACKAGES := generated clients/python clients/betterproto
NPM_PACKAGES := clients/typescript
DIST ?= dist

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

# The contract must not break what was released: the newest image under release/, committed,
# so a fresh or shallow clone in CI has it (no tags or branches needed). Only our module
# (protos/); the image carries the imports it was built with.
buf-breaking: tools
	@test -n "$(RELEASED_IMAGE)" || { echo "no release image under release/"; exit 1; }
	@echo "buf breaking against $(RELEASED_IMAGE)"
	$(BUF) breaking protos --against $(RELEASED_IMAGE)

## check-version / sync-version: every package at the version in VERSION (tools/version.py)
check-version: venv
	$(PY) tools/version.py check

sync-version: venv
	$(PY) tools/version.py sync

## dist: wheels and sdists of PY_PACKAGES, npm tarballs of NPM_PACKAGES, in $(DIST) (dist/), checked
dist: venv check-version typescript-deps
	rm -rf $(DIST) && mkdir -p $(DIST)
	@set -e; for pkg in $(PY_PACKAGES); do \
	  echo "building $$pkg"; \
	  $(PY) -m build --no-isolation --outdir $(DIST) $$pkg; \
	  rm -rf $$pkg/build; \
	done
	$(BIN)/twine check --strict $(DIST)/*
	@set -e; for pkg in $(NPM_PACKAGES); do \
	  echo "packing $$pkg"; \
	  (cd $$pkg && npm pack --dry-run) && npm pack ./$$pkg --pack-destination $(abspath $(DIST)); \
	done

# The image of the contract as released at VERSION (no source info: comments may change freely).
release-image: tools
	$(BUF) build protos --exclude-source-info -o release/v$(VERSION).binpb

## release: cut v$(VERSION) (docs/development.md "Versions and releases"): checks that this version is
## new, the tree clean, the packages at VERSION, the contract compatible with the last release;
## writes release/v$(VERSION).binpb and builds dist/; then commit the image and tag.
release: tools check-version check-generated
	@test ! -e release/v$(VERSION).binpb || { echo "v$(VERSION) is already released: bump VERSION, make sync-version"; exit 1; }
	@git diff --quiet HEAD || { echo "commit your changes first"; exit 1; }
	@if [ -n "$(RELEASED_IMAGE)" ]; then $(MAKE) --no-print-directory buf-breaking; fi
	$(MAKE) --no-print-directory release-image dist
	@echo "now: git add release/v$(VERSION).binpb && git commit -m 'Release v$(VERSION)' && git tag v$(VERSION)"
	@echo "and publish dist/* (twine upload dist/*.whl dist/*.tar.gz; npm publish dist/*.tgz)"

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
## (which runs the TypeScript client's npm test and example against a started server)
test: venv lint check-generated check-version buf-breaking typescript
	$(BIN)/pytest $(PYTEST_ARGS)

## localstripe: a Stripe emulator on 127.0.0.1:8420 for trying the Stripe gateway by hand
localstripe: venv
	$(PY) -m tests.support.localstripe_launcher 8420

## bench: capacity and latency of a real server (not a test; BENCH_WORKERS=N: serve --workers N)
bench: venv
	$(PY) -m bench $(if $(BENCH_WORKERS),--workers $(BENCH_WORKERS)) $(BENCH_ARGS)

## bench-calls: server CPU per call of each RPC, one call at a time (where a lifecycle's CPU goes)
bench-calls: venv
	$(PY) -m bench.per_call $(BENCH_ARGS)

## bench-events: CPU per event of rendering its published form (the outbox does it at commit)
bench-events: venv
	$(PY) -m bench.event_render $(BENCH_ARGS)

## bench-metrics: what a /metrics scrape costs with a large outbox (server/metrics_scrape.py)
bench-metrics: venv
	$(PY) -m bench.metrics_scrape $(BENCH_ARGS)

## bench-rules: CPU per request of the contract's buf.validate rules (checked on every call)
bench-rules: venv
	$(PY) -m bench.contract_rules $(BENCH_ARGS)

## bench-audit: what the audit trail costs a transaction (commits with and without an entry)
bench-audit: venv
	$(PY) -m bench.audit_append $(BENCH_ARGS)

## bench-analytics: 1,000,000 payments seeded, p95 of GetPaymentStats (30 days by day) and what
## the projector and the status-count trigger cost the payment path (bench/analytics.py)
bench-analytics: venv
	$(PY) -m bench.analytics $(BENCH_ARGS)

## chaos: faults under a steady load of payments against two service processes (their own
## PostgreSQL, Redis and broker, never the machine's), the error rate during each, then checks
## that nothing was lost or mis-booked (bench/chaos, docs/operations.md); under 5 minutes
chaos: venv
	$(PY) -m bench.chaos $(CHAOS_ARGS)

clean:
	rm -rf $(VENV) build dist tools/node_modules .pytest_cache .mypy_cache .ruff_cache \
	  $(TS_CLIENT)/node_modules $(TS_CLIENT)/dist $(TS_EXAMPLE)/node_modules $(TS_EXAMPLE)/dist
