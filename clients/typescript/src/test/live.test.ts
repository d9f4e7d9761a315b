/**
 * Live tests against the server named by PAYMENTS_GRPC_TARGET, with the token in
 * PAYMENTS_TOKEN (`make test` starts one: tests/e2e/test_typescript_client.py). Skipped,
 * saying so, when no target is set.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { ConnectError, type Interceptor } from "@connectrpc/connect";
import {
  Code,
  InvalidArgument,
  NotFound,
  PaymentDeclined,
  PaymentsClient,
  Unauthenticated,
  type PaymentsError,
} from "../index.js";
import { PaymentMethodType, PaymentStatus } from "../gen/payments/v1/payment_pb.js";


const target = process.env.PAYMENTS_GRPC_TARGET;
const skip = target ? false : "PAYMENTS_GRPC_TARGET is not set (no server to test against)";
const QUICK = { retry: { maxAttempts: 10, initialBackoffMs: 20, maxBackoffMs: 200, multiplier: 2, rateLimitJitter: 0.1, random: Math.random } };

function order(fields: { paymentMethodToken?: string } = {}) {
  return {
    orderId: randomUUID(),
    userId: randomUUID(),
    amountMinor: 1099n,
    currency: "EUR",
    paymentMethodType: PaymentMethodType.CREDIT_CARD,
    paymentMethodToken: "pm_card_visa",
    ...fields,
  };
}

describe("against a live server", { skip }, () => {
  let client: PaymentsClient;
  before(() => {
    // An async token provider, asked on every attempt.
    client = PaymentsClient.fromEnv(process.env, { token: async () => process.env.PAYMENTS_TOKEN ?? "", settings: QUICK });
  });
  after(() => client?.close());

  test("a checkout: create and authorize with a key, capture, read back", async () => {
    const key = `ts-checkout-${randomUUID()}`;
    const created = await client.createPayment({ ...order(), authorize: true }, { requestId: key });
    const paymentId = created.payment?.paymentId ?? "";
    assert.equal(created.payment?.status, PaymentStatus.AUTHORIZED);
    const captured = await client.capturePayment({ paymentId });
    assert.equal(captured.payment?.status, PaymentStatus.CAPTURED);
    assert.equal(captured.payment?.capturedAmountMinor, 1099n);
    const read = await client.getPayment({ paymentId });
    assert.equal(read.payment?.capturedAmountMinor, 1099n);
    assert.equal(typeof read.payment?.amountMinor, "bigint");
    const userId = read.payment?.userId ?? "";
    const listed = await client.listPayments({ filter: `user_id = "${userId}" AND status = "PAYMENT_STATUS_CAPTURED"` });
    assert.deepEqual(listed.payments.map((p) => p.paymentId), [paymentId]);
  });

  test("typed errors: field violations, not found, a decline, no token", async () => {
    const invalid = await client.createPayment({ orderId: "not-a-uuid", amountMinor: -5n, currency: "eur" }).catch((e: unknown) => e);
    assert.ok(invalid instanceof InvalidArgument, String(invalid));
    assert.equal(invalid.reason, "VALIDATION_FAILED");
    assert.ok(["order_id", "user_id", "amount_minor", "currency"].every((f) => f in invalid.fieldViolations), JSON.stringify(invalid.fieldViolations));
    assert.match(invalid.requestId, /^[0-9a-f-]{36}$/);

    const missing = await client.getPayment({ paymentId: randomUUID() }).catch((e: unknown) => e);
    assert.ok(missing instanceof NotFound);
    assert.equal(missing.reason, "PAYMENT_NOT_FOUND");
    const raw = await client.payments.getPayment({ paymentId: randomUUID() }).catch((e: unknown) => e);
    assert.ok(raw instanceof NotFound, "the raw generated client's errors are typed too");

    const created = await client.createPayment(order({ paymentMethodToken: "pm_card_chargeDeclinedInsufficientFunds" }));
    const declined = await client.authorizePayment({ paymentId: created.payment?.paymentId ?? "" }).catch((e: unknown) => e);
    assert.ok(declined instanceof PaymentDeclined, String(declined));
    assert.equal(declined.declineCode, "INSUFFICIENT_FUNDS");

    const anonymous = PaymentsClient.fromEnv({ PAYMENTS_GRPC_TARGET: target });
    try {
      const refused = await anonymous.getPayment({ paymentId: randomUUID() }).catch((e: unknown) => e);
      assert.ok(refused instanceof Unauthenticated, String(refused));
    } finally {
      anonymous.close();
    }
  });

  test("a keyed call whose answer is lost is retried with its key and acts once", async () => {
    const paid = await client.createPayment({ ...order(), authorize: true });
    const paymentId = paid.payment?.paymentId ?? "";
    await client.capturePayment({ paymentId });
    // The first RefundPayment reaches the server and acts; its answer is then lost, as when
    // a connection drops after the server wrote it.
    const keys: string[] = [];
    let cut = false;
    const loseFirstAnswer: Interceptor = (next) => async (request) => {
      const message = request.message as { requestId?: string };
      if (request.method.name === "RefundPayment") keys.push(message.requestId ?? "");
      const response = await next(request);
      if (request.method.name === "RefundPayment" && !cut) {
        cut = true;
        throw new ConnectError("connection lost after the server acted", Code.Unavailable);
      }
      return response;
    };
    const retried: PaymentsError[] = [];
    const flaky = PaymentsClient.fromEnv(process.env, {
      settings: QUICK,
      interceptors: [loseFirstAnswer],
      onRetry: (_method, _attempt, error) => retried.push(error),
    });
    try {
      const refunded = await flaky.refundPayment({ paymentId, amountMinor: 100n, reason: "retry test" });
      assert.equal(refunded.payment?.refundedAmountMinor, 100n);
    } finally {
      flaky.close();
    }
    assert.equal(keys.length, 2);
    assert.equal(keys[0], keys[1]);
    assert.deepEqual(retried.map((e) => e.code), [Code.Unavailable]);
    const { refunds } = await client.listRefunds({ paymentId });
    assert.equal(refunds.length, 1, "refunded once, not twice");
    const read = await client.getPayment({ paymentId });
    assert.equal(read.payment?.refundedAmountMinor, 100n);
  });

  test("key reuse: the same key replays the first answer; with another request it is refused", async () => {
    const key = `ts-reuse-${randomUUID()}`;
    const request = { ...order(), authorize: true };
    const first = await client.createPayment(request, { requestId: key });
    const again = await client.createPayment(request, { requestId: key });
    assert.equal(again.payment?.paymentId, first.payment?.paymentId);
    const other = await client.createPayment({ ...request, amountMinor: 2000n }, { requestId: key }).catch((e: unknown) => e);
    assert.ok(other instanceof InvalidArgument, String(other));
    assert.equal(other.reason, "IDEMPOTENCY_KEY_REUSED");

    // Concurrent captures with one key (IDEMPOTENCY_KEY_IN_USE is retried): one capture.
    const paymentId = first.payment?.paymentId ?? "";
    const captureKey = `ts-capture-${randomUUID()}`;
    const answers = await Promise.all(
      Array.from({ length: 5 }, () => client.capturePayment({ paymentId }, { requestId: captureKey })),
    );
    assert.deepEqual(new Set(answers.map((a) => a.payment?.status)), new Set([PaymentStatus.CAPTURED]));
    assert.deepEqual(new Set(answers.map((a) => a.payment?.capturedAmountMinor)), new Set([1099n]));
    const read = await client.getPayment({ paymentId });
    assert.equal(read.payment?.capturedAmountMinor, 1099n);
  });
});
