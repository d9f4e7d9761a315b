/**
 * The client's retry rules on a server of the test's own (fault_server.ts): which failures
 * are retried, with the same request_id each time, after which pause; which are thrown at once.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  Code,
  Conflict,
  DeadlineExceeded,
  InvalidArgument,
  NotFound,
  PaymentDeclined,
  PaymentsClient,
  RateLimited,
  Unavailable,
  type PaymentsError,
} from "../index.js";
import { create } from "@bufbuild/protobuf";
import { CapturePaymentRequestSchema } from "../gen/payments/v1/payment_service_pb.js";
import { FaultServer, failure } from "./fault_server.js";

const server = new FaultServer();
let target = "";
let client: PaymentsClient;
let retries: [string, number, PaymentsError, number][] = [];

function newClient(extra: ConstructorParameters<typeof PaymentsClient>[1] = {}): PaymentsClient {
  return new PaymentsClient(target, {
    token: async () => "token-1",
    settings: { retry: { maxAttempts: 4, initialBackoffMs: 1, maxBackoffMs: 5, multiplier: 2, rateLimitJitter: 0.1, random: () => 0.5 } },
    onRetry: (...args) => retries.push(args),
    ...extra,
  });
}

before(async () => {
  target = await server.start();
  client = newClient();
});
after(async () => {
  client.close();
  await server.stop();
});
beforeEach(() => {
  server.seen.length = 0;
  server.script = () => undefined;
  retries = [];
});

describe("retries", () => {
  test("UNAVAILABLE on a keyed call: retried with the same request_id and the token", async () => {
    server.script = (attempt) => (attempt < 3 ? failure(Code.Unavailable, "GATEWAY_UNAVAILABLE") : undefined);
    const { payment } = await client.capturePayment({ paymentId: "p-1" });
    assert.equal(payment?.paymentId, "p-1");
    assert.equal(server.seen.length, 3);
    const keys = new Set(server.seen.map((s) => s.requestId));
    assert.equal(keys.size, 1);
    assert.match([...keys][0]!, /^[0-9a-f-]{36}$/);
    assert.deepEqual(server.seen.map((s) => s.authorization), Array(3).fill("Bearer token-1"));
    assert.deepEqual(retries.map(([method, attempt, error]) => [method, attempt, error.code]), [
      ["CapturePayment", 1, Code.Unavailable],
      ["CapturePayment", 2, Code.Unavailable],
    ]);
    assert.ok(retries.every(([, , error]) => error instanceof Unavailable));
  });

  test("the caller's own request_id is the one sent on every attempt", async () => {
    server.script = (attempt) => (attempt === 1 ? failure(Code.Unavailable, "X") : undefined);
    await client.capturePayment({ paymentId: "p-2" }, { requestId: "my-key" });
    await client.capturePayment({ paymentId: "p-2", requestId: "on-the-request" });
    assert.deepEqual(server.seen.map((s) => s.requestId), ["my-key", "my-key", "on-the-request"]);
    // A message of the caller's (not an init object) is sent with a key, and left unchanged.
    const mine = create(CapturePaymentRequestSchema, { paymentId: "p-2" });
    await client.capturePayment(mine);
    assert.equal(mine.requestId, "");
    assert.match(server.seen.at(-1)!.requestId, /^[0-9a-f-]{36}$/);
  });

  test("ABORTED IDEMPOTENCY_KEY_IN_USE is retried; another ABORTED is thrown at once", async () => {
    server.script = (attempt) => (attempt === 1 ? failure(Code.Aborted, "IDEMPOTENCY_KEY_IN_USE") : undefined);
    await client.capturePayment({ paymentId: "p-3" });
    assert.equal(server.seen.length, 2);
    server.seen.length = 0;
    server.script = () => failure(Code.Aborted, "CONCURRENT_MODIFICATION");
    const error = await client.capturePayment({ paymentId: "p-3" }).catch((e: unknown) => e);
    assert.ok(error instanceof Conflict);
    assert.equal(error.reason, "CONCURRENT_MODIFICATION");
    assert.equal(server.seen.length, 1);
  });

  test("RESOURCE_EXHAUSTED waits the RetryInfo delay (plus its jitter) before retrying", async () => {
    server.script = (attempt) => (attempt === 1 ? failure(Code.ResourceExhausted, "RATE_LIMITED", { retryDelayMs: 40 }) : undefined);
    await client.capturePayment({ paymentId: "p-4" });
    const [[, , error, delay]] = retries as [[string, number, PaymentsError, number]];
    assert.ok(error instanceof RateLimited);
    assert.equal(error.retryDelayMs, 40);
    assert.equal(error.retryable, true);
    assert.equal(delay, 40 + 40 * 0.1 * 0.5);
  });

  test("DEADLINE_EXCEEDED: a keyed call and a read are retried", async () => {
    // The first attempt stalls past its deadline; the second answers.
    server.script = async (attempt, context) => {
      if (attempt === 1) await sleep(1_000, undefined, { signal: context.signal }).catch(() => undefined);
      return undefined;
    };
    await client.capturePayment({ paymentId: "p-5" }, { timeoutMs: 150 });
    await client.getPayment({ paymentId: "p-5" }, { timeoutMs: 150 });
    assert.deepEqual(retries.map(([method, , error]) => [method, error.code]), [
      ["CapturePayment", Code.DeadlineExceeded],
      ["GetPayment", Code.DeadlineExceeded],
    ]);
    assert.ok(retries.every(([, , error]) => error instanceof DeadlineExceeded));
    assert.ok(server.seen.every((s) => s.timeoutMs !== undefined && s.timeoutMs <= 150));
  });

  test("default deadlines: a read 5 s, a write 30 s, per-method overrides", async () => {
    const custom = newClient({ settings: { readDeadlineMs: 2_000, deadlinesMs: { CapturePayment: 45_000 } } });
    try {
      await client.getPayment({ paymentId: "d" });
      await client.capturePayment({ paymentId: "d" });
      await custom.getPayment({ paymentId: "d" });
      await custom.capturePayment({ paymentId: "d" });
    } finally {
      custom.close();
    }
    const budgets = server.seen.map((s) => s.timeoutMs ?? 0);
    const near = (ms: number, want: number) => ms <= want && ms > want - 1_000;
    assert.ok(near(budgets[0]!, 5_000) && near(budgets[1]!, 30_000), String(budgets));
    assert.ok(near(budgets[2]!, 2_000) && near(budgets[3]!, 45_000), String(budgets));
  });

  test("declines, invalid input and not found are thrown at once, typed", async () => {
    server.script = () => failure(Code.FailedPrecondition, "INSUFFICIENT_FUNDS");
    const declined = await client.capturePayment({ paymentId: "p-6" }).catch((e: unknown) => e);
    assert.ok(declined instanceof PaymentDeclined);
    assert.equal(declined.declineCode, "INSUFFICIENT_FUNDS");
    assert.deepEqual(declined.metadata, { k: "v" });
    server.script = () => failure(Code.InvalidArgument, "VALIDATION_FAILED", { violations: { payment_id: "must be a UUID" } });
    const invalid = await client.capturePayment({ paymentId: "p-6" }).catch((e: unknown) => e);
    assert.ok(invalid instanceof InvalidArgument);
    assert.deepEqual(invalid.fieldViolations, { payment_id: "must be a UUID" });
    assert.match(invalid.requestId, /^[0-9a-f-]{36}$/);
    server.script = () => failure(Code.NotFound, "PAYMENT_NOT_FOUND");
    const missing = await client.getPayment({ paymentId: "p-6" }).catch((e: unknown) => e);
    assert.ok(missing instanceof NotFound);
    assert.equal(missing.codeName, "NOT_FOUND");
    assert.equal(server.seen.length, 3);
    assert.deepEqual(retries, []);
  });

  test("UNAVAILABLE forever: maxAttempts attempts, then the typed error", async () => {
    server.script = () => failure(Code.Unavailable, "GATEWAY_UNAVAILABLE");
    const error = await client.capturePayment({ paymentId: "p-7" }).catch((e: unknown) => e);
    assert.ok(error instanceof Unavailable);
    assert.equal(server.seen.length, 4);
  });

  test("a refused connection is UNAVAILABLE, retried for a read", async () => {
    await server.stop();
    const gone = newClient();
    try {
      const error = await gone.getPayment({ paymentId: "p-8" }).catch((e: unknown) => e);
      assert.ok(error instanceof Unavailable, String(error));
      assert.equal(retries.length, 3);
    } finally {
      gone.close();
      target = await server.start();
      client.close();
      client = newClient();
    }
  });
});
