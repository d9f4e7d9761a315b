# syntax=docker/dockerfile:1
# Runtime image of the payment service.
#   docker build -t payment-service .
#   docker run --rm -e DATABASE_URL=postgresql://user:pass@db:5432/payments payment-service migrate
#   docker run -d -p 9090:9090 -e DATABASE_URL=... -e ENCRYPTION_KEY_FILE=... \
#     -e BLIND_INDEX_KEY_FILE=... payment-service                              # = serve
# Stop with a timeout above SHUTDOWN_GRACE_SECONDS (20 s by default), e.g. `docker stop -t 30`
# (Kubernetes: terminationGracePeriodSeconds >= 30), so in-flight calls can drain.

ARG PYTHON_IMAGE=python:3.11-slim

# ---- builder: the generated stubs and the service installed into a venv ----------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src

# Exactly the locked dependencies, each file checked against its hash (requirements/
# service.lock, refreshed only by `make lock`): their own layer, rebuilt when the lock moves.
COPY requirements/service.lock requirements/
RUN --mount=type=cache,target=/root/.cache/pip \
    pip install --require-hashes --no-deps -r requirements/service.lock

# The checkout's packages bring nothing of their own (--no-deps) and build with the locked
# setuptools. Not editable: the venv must not point back at /src.
COPY generated/ generated/
COPY pyproject.toml ./
COPY domain/ domain/
COPY infra/ infra/
COPY server/ server/
COPY migrations/ migrations/
RUN pip install --no-deps --no-build-isolation ./generated . && pip check

# ---- runtime ------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
# APP_ENV=production: without DATABASE_URL/DB_HOST the service refuses to start instead of
# falling back to the embedded development PostgreSQL; without ENCRYPTION_KEY(_FILE) and
# BLIND_INDEX_KEY(_FILE) instead of using the development keys.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    APP_ENV=production
# /app/.data (EMBEDDED_DATA_DIR's default) belongs to the app user: a volume mounted there
# starts with that owner (deploy/compose.yaml shares the development signing key that way).
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /app \
      --shell /usr/sbin/nologin app \
 && install -d -o app -g app /app/.data
# Same path as in the builder: the venv's scripts have /opt/venv/bin/python in their shebang.
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
# `payment-service migrate` uses the installed `migrations` package; these two also let
# `alembic -c /app/alembic.ini upgrade head` (or `alembic check`) run inside the image.
COPY alembic.ini ./
COPY migrations/ migrations/
USER app

# gRPC, the REST shim, and the ops port (probes and metrics: plaintext, no token).
EXPOSE 9090 8080 9091
# Readiness from the ops port (server/ops_port.py): plain HTTP on 127.0.0.1, so it works
# whatever TLS, client certificates or PCI_COMPLIANCE_MODE the public ports demand. Healthy =
# the database answers at the migrated head and, with Kafka on, the brokers answer.
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 CMD ["python", "-c", \
  "import os, sys, urllib.request as u; p = os.environ.get('OPS_PORT', '9091'); sys.exit(u.urlopen(f'http://127.0.0.1:{p}/readyz', timeout=4).status != 200)"]

ENTRYPOINT ["payment-service"]
CMD ["serve"]
