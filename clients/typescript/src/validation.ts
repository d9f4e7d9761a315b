/**
 * The contract's rules, checked before sending: a request the server would refuse with
 * INVALID_ARGUMENT / VALIDATION_FAILED is refused here with the same InvalidArgument (same
 * reason, same field paths), without a round trip. The rules are the buf.validate options of
 * the .proto files, evaluated by @bufbuild/protovalidate (the server runs protovalidate too).
 *
 *     validateRequest(CreatePaymentRequestSchema, request);      // throws InvalidArgument
 *     new PaymentsClient(target, { validate: true });            // every call checked first
 *
 * Rules that need the server's state (a supported currency, one payment per order) are still
 * the server's to check.
 */
import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import type { Path } from "@bufbuild/protobuf/reflect";
import { createValidator, type Validator, type Violation } from "@bufbuild/protovalidate";
import { Code } from "@connectrpc/connect";
import { InvalidArgument } from "./errors.js";

export const VALIDATION_FAILED = "VALIDATION_FAILED";

/** `metadata[key]`, `amount_minor`: proto field names with their subscripts, as the server
 * writes them; a rule across fields names its field first in its id (`target_currency.distinct`). */
export function fieldPath(violation: Violation): string {
  const path: Path = violation.field;
  if (path.length === 0) return violation.ruleId.split(".")[0] ?? "";
  let out = "";
  for (const item of path) {
    switch (item.kind) {
      case "field":
      case "oneof":
        out += (out ? "." : "") + item.name;
        break;
      case "list_sub":
        out += `[${item.index}]`;
        break;
      case "map_sub":
        out += `[${String(item.key)}]`;
        break;
      default:
        break;
    }
  }
  return out;
}

export class RequestValidator {
  // One validator: it caches each message type's compiled rules.
  private readonly validator: Validator = createValidator();

  /** Field path -> what is wrong, as the server's BadRequest names them. */
  violations<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): Record<string, string> {
    const result = this.validator.validate(schema, message);
    if (result.kind === "valid") return {};
    if (result.kind === "error") throw result.error;
    const found: Record<string, string> = {};
    for (const violation of result.violations) {
      const path = fieldPath(violation);
      const said = violation.ruleId === "required" ? "is required" : violation.message;
      found[path] ??= (violation.forKey ? "a key " : "") + said;
    }
    return found;
  }

  /** Throws InvalidArgument when `message` breaks a rule of the contract. */
  check<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void {
    const found = this.violations(schema, message);
    const fields = Object.keys(found);
    if (fields.length > 0) {
      throw new InvalidArgument({
        code: Code.InvalidArgument,
        message: `invalid request: ${fields.join(", ")}`,
        reason: VALIDATION_FAILED,
        fieldViolations: found,
      });
    }
  }
}

let shared: RequestValidator | undefined;

/** Throws InvalidArgument when `message` breaks a rule of the contract (a shared validator). */
export function validateRequest<Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>): void {
  shared ??= new RequestValidator();
  shared.check(schema, message);
}
