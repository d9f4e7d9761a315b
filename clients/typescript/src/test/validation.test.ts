/** The client refuses locally what the server's edge would refuse: the contract's rules. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { create } from "@bufbuild/protobuf";
import { InvalidArgument, PaymentsClient, RequestValidator, validateRequest } from "../index.js";
import { CreateFxQuoteRequestSchema } from "../gen/payments/v1/fx_service_pb.js";
import { PaymentMethodType } from "../gen/payments/v1/payment_pb.js";
import { CapturePaymentRequestSchema, CreatePaymentRequestSchema } from "../gen/payments/v1/payment_service_pb.js";

const ID = "0b7f3b1e-0000-4000-8000-000000000001";
const valid = () =>
  create(CreatePaymentRequestSchema, {
    orderId: ID,
    userId: ID,
    amountMinor: 1099n,
    currency: "EUR",
    paymentMethodType: PaymentMethodType.CREDIT_CARD,
    paymentMethodToken: "pm_card_visa",
  });

test("a valid request passes", () => {
  assert.deepEqual(new RequestValidator().violations(CreatePaymentRequestSchema, valid()), {});
  validateRequest(CreatePaymentRequestSchema, valid());
});

test("every broken rule is named by the field path the server uses", () => {
  const request = create(CreatePaymentRequestSchema, {
    orderId: "order-1",
    amountMinor: -5n,
    currency: "eur",
    metadata: { ["k".repeat(41)]: "v" },
    country: "de",
  });
  const found = new RequestValidator().violations(CreatePaymentRequestSchema, request);
  assert.deepEqual(Object.keys(found).sort(), [
    "amount_minor",
    "country",
    "currency",
    `metadata[${"k".repeat(41)}]`,
    "order_id",
    "user_id",
  ]);
  assert.equal(found["user_id"], "is required");
  const quote = create(CreateFxQuoteRequestSchema, { sourceCurrency: "EUR", targetCurrency: "EUR", sourceAmountMinor: 5n });
  assert.deepEqual(Object.keys(new RequestValidator().violations(CreateFxQuoteRequestSchema, quote)), ["target_currency"]);
});

test("validateRequest throws the server's InvalidArgument / VALIDATION_FAILED", () => {
  assert.throws(
    () => validateRequest(CapturePaymentRequestSchema, create(CapturePaymentRequestSchema, { paymentId: "x" })),
    (error: unknown) =>
      error instanceof InvalidArgument && error.reason === "VALIDATION_FAILED" && "payment_id" in error.fieldViolations,
  );
});

test("a client with validate: true refuses before sending (nothing listens on port 1)", async () => {
  const client = new PaymentsClient("127.0.0.1:1", { validate: true });
  try {
    await assert.rejects(
      client.capturePayment({ paymentId: ID, amountMinor: 0n }, { timeoutMs: 5000 }),
      (error: unknown) => error instanceof InvalidArgument && "amount_minor" in error.fieldViolations,
    );
  } finally {
    client.close();
  }
});
