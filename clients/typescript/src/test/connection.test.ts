/** The environment's configuration (the Python client's EnvConfig names) and what the client shows. */
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { PaymentsClient, readEnv } from "../index.js";

test("defaults: plaintext to 127.0.0.1:9090, 5 s reads, 30 s writes, 5 attempts", () => {
  const config = readEnv({});
  assert.equal(config.target, "127.0.0.1:9090");
  assert.equal(config.token, undefined);
  assert.equal(config.tls, undefined);
  assert.deepEqual(
    [config.settings.readDeadlineMs, config.settings.writeDeadlineMs, config.settings.retry.maxAttempts],
    [5_000, 30_000, 5],
  );
});

test("PAYMENTS_* variables: target, token, TLS files, deadlines in seconds, attempts", () => {
  const dir = mkdtempSync(join(tmpdir(), "payments-env-"));
  for (const name of ["ca.pem", "cert.pem", "key.pem"]) writeFileSync(join(dir, name), `PEM ${name}`);
  const config = readEnv({
    PAYMENTS_GRPC_TARGET: " payments.internal:443 ",
    PAYMENTS_TOKEN: "t",
    PAYMENTS_TLS_CA: join(dir, "ca.pem"),
    PAYMENTS_TLS_CERT: join(dir, "cert.pem"),
    PAYMENTS_TLS_KEY: join(dir, "key.pem"),
    PAYMENTS_TLS_SERVER_NAME: "payments",
    PAYMENTS_READ_DEADLINE: "1.5",
    PAYMENTS_WRITE_DEADLINE: "60",
    PAYMENTS_MAX_ATTEMPTS: "3",
  });
  assert.equal(config.target, "payments.internal:443");
  assert.equal(config.token, "t");
  assert.equal(String(config.tls?.ca), "PEM ca.pem");
  assert.equal(String(config.tls?.cert), "PEM cert.pem");
  assert.equal(String(config.tls?.key), "PEM key.pem");
  assert.equal(config.tls?.serverName, "payments");
  assert.deepEqual(
    [config.settings.readDeadlineMs, config.settings.writeDeadlineMs, config.settings.retry.maxAttempts],
    [1_500, 60_000, 3],
  );
  assert.deepEqual(readEnv({ PAYMENTS_TLS: "true" }).tls, {});
  assert.deepEqual(readEnv({ PAYMENTS_GRPC_TARGET: "https://payments.example" }).tls, {});
});

test("refuses a half mutual TLS pair and nonsense numbers", () => {
  assert.throws(() => readEnv({ PAYMENTS_TLS_CERT: "/x" }), /go together/);
  assert.throws(() => readEnv({ PAYMENTS_READ_DEADLINE: "soon" }), /PAYMENTS_READ_DEADLINE/);
  assert.throws(() => readEnv({ PAYMENTS_MAX_ATTEMPTS: "0" }), /PAYMENTS_MAX_ATTEMPTS/);
});

test("fromEnv: the caller's settings go over the environment's; the token is never shown", () => {
  const client = PaymentsClient.fromEnv(
    { PAYMENTS_TOKEN: "secret-token", PAYMENTS_WRITE_DEADLINE: "60" },
    { settings: { readDeadlineMs: 100 } },
  );
  try {
    assert.equal(client.settings.readDeadlineMs, 100);
    assert.equal(client.settings.writeDeadlineMs, 60_000);
    assert.doesNotMatch(String(client), /secret-token/);
    assert.doesNotMatch(JSON.stringify(Object.keys(client)), /secret-token/);
  } finally {
    client.close();
  }
});
