/** The exact decimal, the float-free JSON reader, the payment event parser, the order event builders. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  Decimal,
  EVENT_TYPES,
  EventParseError,
  JsonNumber,
  orderCancelled,
  orderConfirmed,
  parseExactJson,
  parsePaymentEvent,
} from "../index.js";

describe("Decimal", () => {
  test("keeps what a float would round", () => {
    assert.equal(Decimal.parse("0.1").toString(), "0.1");
    assert.equal(Decimal.parse("12345678901234567.89").toString(), "12345678901234567.89");
    assert.equal(Decimal.parse("1.234").toMinor(3), 1234n);
    assert.equal(Decimal.parse("1e-3").toString(), "0.001");
    assert.equal(Decimal.parse("15E2").toString(), "1500");
    assert.equal(Decimal.parse("-0.05").toString(), "-0.05");
    assert.equal(Decimal.fromMinor(1099n, 2).toString(), "10.99");
    assert.equal(Decimal.fromMinor(500, 0).toString(), "500");
    assert.ok(Decimal.parse("1.5").equals(Decimal.parse("1.50")));
  });

  test("refuses to round or to read a non-number", () => {
    assert.throws(() => Decimal.parse("1.005").toMinor(2), RangeError);
    assert.throws(() => Decimal.parse("abc"), RangeError);
    assert.throws(() => Decimal.parse("1.2.3"), RangeError);
    assert.throws(() => Decimal.fromMinor(2 ** 60, 2), RangeError);
  });
});

describe("parseExactJson", () => {
  test("numbers come back as their source text", () => {
    const value = parseExactJson('{"a": 0.30000000000000004, "b": [1, -2.50e1, "x\\n"], "c": {"d": null, "e": true}}');
    assert.deepEqual(value, {
      a: new JsonNumber("0.30000000000000004"),
      b: [new JsonNumber("1"), new JsonNumber("-2.50e1"), "x\n"],
      c: { d: null, e: true },
    });
  });

  test("a __proto__ key is data", () => {
    const value = parseExactJson('{"__proto__": {"polluted": "yes"}}') as Record<string, unknown>;
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    assert.deepEqual(Object.keys(value), ["__proto__"]);
  });

  test("rejects what JSON.parse rejects", () => {
    for (const bad of ["{", "[1,]", "01", "1.", '{"a" 1}', "nul", '"\\x"', "1 2", ""]) {
      assert.throws(() => parseExactJson(bad), SyntaxError, bad);
    }
  });
});

const SUCCESSFUL =
  '{"eventId":"e-1","paymentId":"p-1","orderId":"o-1","amount":1.234,"currency":"KWD",' +
  '"paymentMethod":"CARD","transactionId":"t-1","timestamp":"2026-12-07T10:00:00.123456Z",' +
  '"amountMinor":1234,"settlementAmount":12345678901234567.89,"settlementCurrency":"EUR",' +
  '"settlementAmountMinor":1234567890123456789,"exchangeRate":"0.0025"}';

describe("parsePaymentEvent", () => {
  test("a settled event, amounts exact, its type from the ce_type header", () => {
    const event = parsePaymentEvent(new TextEncoder().encode(SUCCESSFUL), {
      headers: [["ce_type", new TextEncoder().encode("payment.successful")]],
    });
    assert.equal(event.type, "payment.successful");
    if (event.type !== "payment.successful") return;
    assert.equal(event.amount.toString(), "1.234");
    assert.equal(event.amountMinor, 1234n);
    assert.equal(event.settlementAmount.toString(), "12345678901234567.89");
    assert.equal(event.settlementAmountMinor, 1234567890123456789n);
    assert.equal(event.exchangeRate.toString(), "0.0025");
    assert.equal(event.timestamp, "2026-12-07T10:00:00.123456Z");
  });

  test("the other types", () => {
    const base = '"eventId":"e","paymentId":"p","orderId":"o","timestamp":"2026-12-07T10:00:00Z"';
    const review = parsePaymentEvent(`{${base},"rulesHit":["A","B"]}`, { eventType: "payment.requires_review" });
    assert.deepEqual(review.type === "payment.requires_review" && review.rulesHit, ["A", "B"]);
    const failed = parsePaymentEvent(`{${base},"reason":"declined","retryAttempt":2,"failureCode":"CARD_DECLINED"}`, {
      headers: { ce_type: "payment.failed" },
    });
    assert.equal(failed.type === "payment.failed" && failed.retryAttempt, 2n);
    const dispute = `${base},"disputeId":"d","amount":1.234,"currency":"KWD","amountMinor":1234,"reason":"fraudulent","status":"LOST","gateway":"STRIPE"`;
    const closed = parsePaymentEvent(`{${dispute},"outcome":"LOST","closedAt":"2026-12-08T09:30:00.123456Z"}`, {
      eventType: "payment.dispute_closed",
    });
    assert.ok(closed.type === "payment.dispute_closed");
    assert.equal(closed.amount.toString(), "1.234");
    assert.equal(closed.amountMinor, 1234n);
    assert.equal(closed.closedAt, "2026-12-08T09:30:00.123456Z");
    assert.throws(() => parsePaymentEvent(`{${dispute}}`, { eventType: "payment.dispute_closed" }), /outcome is missing/);
    assert.equal(EVENT_TYPES.length, 9);
  });

  test("refuses what is not an event of the contract", () => {
    const cases: [string, string | undefined][] = [
      [SUCCESSFUL, "order.confirmed"],
      [SUCCESSFUL, undefined],
      ["[1]", "payment.successful"],
      ["{not json", "payment.successful"],
      [SUCCESSFUL.replace('"amount":1.234', '"amount":"x"'), "payment.successful"],
      [SUCCESSFUL.replace('"amountMinor":1234', '"amountMinor":12.5'), "payment.successful"],
      [SUCCESSFUL.replace('"currency":"KWD",', ""), "payment.successful"],
      [SUCCESSFUL.replace("10:00:00.123456Z", "10:00:00+01:00"), "payment.successful"],
    ];
    for (const [value, eventType] of cases) {
      assert.throws(() => parsePaymentEvent(value, eventType ? { eventType } : {}), EventParseError, `${eventType} ${value}`);
    }
  });
});

describe("order event builders", () => {
  test("order.confirmed in the spec form: its own topic, no headers, the total exact", () => {
    const time = new Date("2026-12-07T10:00:00.000Z");
    const record = orderConfirmed({ orderId: "o-1", userId: "u-1", total: "10.99", currency: "EUR", eventId: "e-1", time });
    assert.deepEqual(record, {
      topic: "order.confirmed",
      key: "o-1",
      value: '{"eventId":"e-1","orderId":"o-1","userId":"u-1","total":10.99,"currency":"EUR","timestamp":"2026-12-07T10:00:00.000Z"}',
      headers: {},
    });
  });

  test("order.confirmed as CloudEvents: total an exact JSON number, ce_* headers, keyed by order", () => {
    const time = new Date("2026-12-07T10:00:00.000Z");
    const record = orderConfirmed({
      orderId: "o-1", userId: "u-1", total: "12345678901234567.89", currency: "EUR", eventId: "e-1", time,
      form: "cloudevents",
    });
    assert.equal(record.topic, "order.events");
    assert.equal(record.key, "o-1");
    assert.equal(
      record.value,
      '{"eventId":"e-1","orderId":"o-1","userId":"u-1","total":12345678901234567.89,"currency":"EUR","timestamp":"2026-12-07T10:00:00.000Z"}',
    );
    assert.deepEqual(record.headers, {
      ce_specversion: "1.0",
      ce_id: "e-1",
      ce_type: "order.confirmed",
      ce_source: "/order-service",
      ce_time: "2026-12-07T10:00:00.000Z",
      ce_subject: "o-1",
      "content-type": "application/json",
    });
  });

  test("never takes a float, nor a lower-case currency", () => {
    assert.throws(() => orderConfirmed({ orderId: "o", userId: "u", total: 10.99 as unknown as string, currency: "EUR" }), TypeError);
    assert.throws(() => orderConfirmed({ orderId: "o", userId: "u", total: "10.99", currency: "eur" }), RangeError);
  });

  test("order.cancelled", () => {
    const spec = orderCancelled({ orderId: "o-2" });
    assert.deepEqual([spec.topic, spec.headers], ["order.cancelled", {}]);
    assert.throws(() => orderCancelled({ orderId: "o", form: "xml" as "spec" }), RangeError);
    const record = orderCancelled({ orderId: "o-2", reason: "customer asked", topic: "orders", form: "cloudevents" });
    const body = JSON.parse(record.value) as Record<string, string>;
    assert.equal(record.topic, "orders");
    assert.equal(body.reason, "customer asked");
    assert.equal(body.eventId, record.headers.ce_id);
    assert.equal(record.headers.ce_type, "order.cancelled");
  });
});
