/**
 * Parses Kafka records with parsePaymentEvent and prints each event with every field as
 * text (decimals exactly as Decimal.toString, integers as decimal digits): how the Python
 * contract test (tests/e2e/test_event_contract.py) compares this parser with its own.
 *
 *     node dist/cli/parse_events.js records.json
 *     records.json: [{"headers": {"ce_type": "payment.successful", ...}, "value": "<the JSON text>"}]
 */
import { readFileSync } from "node:fs";
import { Decimal } from "../decimal.js";
import { parsePaymentEvent } from "../events.js";

interface RecordIn {
  headers: Record<string, string>;
  value: string;
}

function asText(value: unknown): unknown {
  if (value instanceof Decimal || typeof value === "bigint") return value.toString();
  if (Array.isArray(value)) return value.map(asText);
  return value;
}

const path = process.argv[2];
if (!path) throw new Error("usage: parse_events.js <records.json>");
const records = JSON.parse(readFileSync(path, "utf8")) as RecordIn[];
const events = records.map((record) => {
  const event = parsePaymentEvent(record.value, { headers: record.headers });
  return Object.fromEntries(Object.entries(event).map(([key, value]) => [key, asText(value)]));
});
process.stdout.write(JSON.stringify(events));
