/**
 * Typed parser of the payment events the service publishes on Kafka (the AsyncAPI document
 * generated/asyncapi.json describes the topic; the Python client's events.py is the twin):
 * amounts as exact Decimals read from the JSON text, never through a binary float; minor
 * units as bigint.
 *
 *     const event = parsePaymentEvent(record.value, { headers: record.headers });
 *     if (event.type === "payment.successful") console.log(event.amount.toString());
 */
import { Decimal } from "./decimal.js";
import { JsonNumber, parseExactJson, type JsonValue } from "./exact_json.js";

export class EventParseError extends Error {
  override name = "EventParseError";
}

interface EventBase {
  eventId: string;
  paymentId: string;
  orderId: string;
  /** RFC 3339 UTC, as sent (microseconds kept; a Date would keep milliseconds). */
  timestamp: string;
}

interface Settled extends EventBase {
  amount: Decimal;
  currency: string;
  amountMinor: bigint;
  transactionId: string;
  /** Beside the specification's fields: the amount in the payment's settlement currency. */
  settlementAmount: Decimal;
  settlementCurrency: string;
  settlementAmountMinor: bigint;
  exchangeRate: Decimal;
}

/** payment.authorized: the gateway holds the amount. */
export interface PaymentAuthorized extends Settled {
  type: "payment.authorized";
  paymentMethod: string;
}
/** payment.successful: the money was captured. */
export interface PaymentSuccessful extends Settled {
  type: "payment.successful";
  paymentMethod: string;
}
/** payment.refunded: money returned to the payment method. */
export interface PaymentRefunded extends Settled {
  type: "payment.refunded";
  refundId: string;
}
/** payment.failed: a decline or a failed attempt. */
export interface PaymentFailed extends EventBase {
  type: "payment.failed";
  reason: string;
  retryAttempt: bigint;
  failureCode: string;
}
/** payment.cancelled: the authorization was voided or the payment abandoned. */
export interface PaymentCancelled extends EventBase {
  type: "payment.cancelled";
  reason: string;
}
/** payment.requires_action: the customer must act (3-D Secure, PayPal approval). */
export interface PaymentRequiresAction extends EventBase {
  type: "payment.requires_action";
  nextActionUrl: string;
}
/** payment.requires_review: the fraud checks held the payment for an admin. */
export interface PaymentRequiresReview extends EventBase {
  type: "payment.requires_review";
  rulesHit: string[];
}

/** payment.disputed: the cardholder (or buyer) opened a dispute at the gateway. */
export interface PaymentDisputed extends EventBase {
  type: "payment.disputed";
  disputeId: string;
  amount: Decimal;
  currency: string;
  amountMinor: bigint;
  reason: string;
  status: string;
  gateway: string;
}
/** payment.dispute_closed: the dispute ended (outcome WON, LOST or CLOSED). */
export interface PaymentDisputeClosed extends Omit<PaymentDisputed, "type"> {
  type: "payment.dispute_closed";
  outcome: string;
  /** RFC 3339 UTC, as sent. */
  closedAt: string;
}

export type PaymentEvent =
  | PaymentAuthorized
  | PaymentSuccessful
  | PaymentRefunded
  | PaymentFailed
  | PaymentCancelled
  | PaymentRequiresAction
  | PaymentRequiresReview
  | PaymentDisputed
  | PaymentDisputeClosed;

export type PaymentEventType = PaymentEvent["type"];

type Kind = "string" | "decimal" | "integer" | "timestamp" | "strings";

const BASE: Record<string, Kind> = { eventId: "string", paymentId: "string", orderId: "string", timestamp: "timestamp" };
const SETTLED: Record<string, Kind> = {
  ...BASE,
  amount: "decimal",
  currency: "string",
  amountMinor: "integer",
  transactionId: "string",
  settlementAmount: "decimal",
  settlementCurrency: "string",
  settlementAmountMinor: "integer",
  exchangeRate: "decimal",
};

const DISPUTED: Record<string, Kind> = {
  ...BASE,
  disputeId: "string",
  amount: "decimal",
  currency: "string",
  amountMinor: "integer",
  reason: "string",
  status: "string",
  gateway: "string",
};

/** The wire fields of each event type (their JSON names) and how each is read. */
export const EVENT_FIELDS: Readonly<Record<PaymentEventType, Readonly<Record<string, Kind>>>> = {
  "payment.authorized": { ...SETTLED, paymentMethod: "string" },
  "payment.successful": { ...SETTLED, paymentMethod: "string" },
  "payment.refunded": { ...SETTLED, refundId: "string" },
  "payment.failed": { ...BASE, reason: "string", retryAttempt: "integer", failureCode: "string" },
  "payment.cancelled": { ...BASE, reason: "string" },
  "payment.requires_action": { ...BASE, nextActionUrl: "string" },
  "payment.requires_review": { ...BASE, rulesHit: "strings" },
  "payment.disputed": DISPUTED,
  "payment.dispute_closed": { ...DISPUTED, outcome: "string", closedAt: "timestamp" },
};

export const EVENT_TYPES: readonly PaymentEventType[] = Object.keys(EVENT_FIELDS) as PaymentEventType[];

const RFC3339_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** Kafka headers as kafkajs and most clients give them, or as [key, value] pairs. */
export type RecordHeaders =
  | Readonly<Record<string, string | Uint8Array | undefined>>
  | Iterable<readonly [string, string | Uint8Array]>;

function header(headers: RecordHeaders | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  const pairs: Iterable<readonly [string, string | Uint8Array | undefined]> =
    Symbol.iterator in headers ? (headers as Iterable<readonly [string, string | Uint8Array]>) : Object.entries(headers);
  for (const [key, raw] of pairs) {
    if (key === name && raw !== undefined) return typeof raw === "string" ? raw : new TextDecoder().decode(raw);
  }
  return undefined;
}

function isEventType(value: string | undefined): value is PaymentEventType {
  return value !== undefined && Object.hasOwn(EVENT_FIELDS, value);
}

/** The event of a Kafka record: its type from `eventType` or the `ce_type` header. */
export function parsePaymentEvent(
  value: string | Uint8Array,
  options: { eventType?: string; headers?: RecordHeaders } = {},
): PaymentEvent {
  const type = options.eventType ?? header(options.headers, "ce_type");
  if (!isEventType(type)) throw new EventParseError(`not a payment event type: ${JSON.stringify(type)}`);
  let body: JsonValue;
  try {
    body = parseExactJson(typeof value === "string" ? value : new TextDecoder().decode(value));
  } catch (error) {
    throw new EventParseError(`not JSON: ${(error as Error).message}`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body) || body instanceof JsonNumber) {
    throw new EventParseError("the value is not a JSON object");
  }
  const event: Record<string, unknown> = { type };
  for (const [name, kind] of Object.entries(EVENT_FIELDS[type])) {
    if (!Object.hasOwn(body, name)) throw new EventParseError(`${name} is missing`);
    event[name] = convert(name, kind, body[name] as JsonValue);
  }
  return event as unknown as PaymentEvent;
}

function convert(name: string, kind: Kind, value: JsonValue): unknown {
  switch (kind) {
    case "decimal":
      // A JSON number (amounts), or a decimal string (exchangeRate).
      if (value instanceof JsonNumber || typeof value === "string") {
        try {
          return Decimal.parse(value instanceof JsonNumber ? value.text : value);
        } catch {
          /* reported below */
        }
      }
      throw new EventParseError(`${name} is not a decimal`);
    case "integer":
      if (value instanceof JsonNumber && /^-?\d+$/.test(value.text)) return BigInt(value.text);
      throw new EventParseError(`${name} is not an integer`);
    case "timestamp":
      if (typeof value === "string" && RFC3339_UTC.test(value) && !Number.isNaN(Date.parse(value))) return value;
      throw new EventParseError(`${name} is not an RFC 3339 UTC time`);
    case "strings":
      if (Array.isArray(value) && value.every((v) => typeof v === "string")) return [...value];
      throw new EventParseError(`${name} is not a list of strings`);
    case "string":
      if (typeof value === "string") return value;
      throw new EventParseError(`${name} is not a string`);
  }
}
