/**
 * Builders of the order events the service consumes, in either form it understands
 * (generated/asyncapi.json describes both; the Python client's order_events.py is the twin):
 *
 * - "spec" (the default): exactly the specification's JSON, no headers, on the topic named as
 *   the specification names the event (order.confirmed, order.cancelled): the topic says the type;
 * - "cloudevents": the same JSON on the one shared topic (order.events), typed by CloudEvents
 *   1.0 binary-mode ce_* headers.
 *
 * `total` is an exact decimal written as a JSON number; the record key is the order id, so an
 * order's events stay in order on one partition. Hand the record to any Kafka producer:
 *
 *     const record = orderConfirmed({ orderId, userId, total: "10.99", currency: "EUR" });
 *     await producer.send({ topic: record.topic, messages: [record] });   // kafkajs
 */
import { randomUUID } from "node:crypto";
import { Decimal } from "./decimal.js";

export const ORDER_EVENTS_TOPIC = "order.events";
export const ORDER_CONFIRMED = "order.confirmed";
export const ORDER_CANCELLED = "order.cancelled";
export type OrderEventForm = "spec" | "cloudevents";

export interface OrderEventRecord {
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
}

interface Common {
  orderId: string;
  /** Made for you (a UUID) when absent; the consumer deduplicates on it. */
  eventId?: string;
  /** Default: now. */
  time?: Date;
  /** "spec" (default) or "cloudevents", see above. */
  form?: OrderEventForm;
  /**
   * Default: the event's own topic in the spec form (KAFKA_TOPIC_ORDER_CONFIRMED /
   * KAFKA_TOPIC_ORDER_CANCELLED of the service), order.events in the CloudEvents form
   * (KAFKA_TOPIC_ORDER_EVENTS).
   */
  topic?: string;
  /** The producer (ce_source), default /order-service. */
  source?: string;
}

export interface OrderConfirmedInit extends Common {
  userId: string;
  /** Decimal in major units ("10.99", or a Decimal); never a JS number (it would round). */
  total: Decimal | string;
  currency: string;
}

export interface OrderCancelledInit extends Common {
  reason?: string;
}

type Field = string | Decimal;

/** JSON text of a flat object, decimals written as JSON numbers, exactly. */
function render(fields: Record<string, Field>): string {
  const members = Object.entries(fields).map(
    ([key, value]) => `${JSON.stringify(key)}:${value instanceof Decimal ? value.toString() : JSON.stringify(value)}`,
  );
  return `{${members.join(",")}}`;
}

function record(type: string, common: Common, fields: Record<string, Field>): OrderEventRecord {
  const eventId = common.eventId ?? randomUUID();
  const time = (common.time ?? new Date()).toISOString();
  const value = render({ eventId, orderId: common.orderId, ...fields, timestamp: time });
  const form = common.form ?? "spec";
  if (form === "spec") {
    return { topic: common.topic ?? type, key: common.orderId, value, headers: {} };
  }
  if (form !== "cloudevents") throw new RangeError(`form is "spec" or "cloudevents", not ${String(form)}`);
  return {
    topic: common.topic ?? ORDER_EVENTS_TOPIC,
    key: common.orderId,
    value,
    headers: {
      ce_specversion: "1.0",
      ce_id: eventId,
      ce_type: type,
      ce_source: common.source ?? "/order-service",
      ce_time: time,
      ce_subject: common.orderId,
      "content-type": "application/json",
    },
  };
}

/** order.confirmed: the service starts the payment of the order. */
export function orderConfirmed(init: OrderConfirmedInit): OrderEventRecord {
  if (typeof (init.total as unknown) === "number") {
    throw new TypeError("total is a decimal string or a Decimal, never a JS number");
  }
  const total = init.total instanceof Decimal ? init.total : Decimal.parse(init.total);
  if (!/^[A-Z]{3}$/.test(init.currency)) throw new RangeError("currency is an ISO 4217 code, upper case");
  return record(ORDER_CONFIRMED, init, { userId: init.userId, total, currency: init.currency });
}

/** order.cancelled: the service voids the order's payment, or refunds it if captured. */
export function orderCancelled(init: OrderCancelledInit): OrderEventRecord {
  return record(ORDER_CANCELLED, init, init.reason === undefined ? {} : { reason: init.reason });
}
