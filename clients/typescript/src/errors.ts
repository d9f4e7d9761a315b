/**
 * Typed errors of the payment service, decoded from the AIP-193 details of a failed call.
 *
 * The server sends a `google.rpc.Status` in the `grpc-status-details-bin` trailer, which
 * Connect exposes as the ConnectError's details: an `ErrorInfo` (a stable `reason`, domain,
 * metadata), for invalid input a `BadRequest` (field violations), for a rate limit a
 * `RetryInfo` (how long to wait). `decodeError` turns them into one class per family of
 * reasons, so callers test `instanceof PaymentDeclined` instead of matching strings:
 *
 *     try { await client.authorizePayment({ paymentId }) }
 *     catch (e) { if (e instanceof PaymentDeclined) console.log(e.declineCode) }
 */
import { Code, ConnectError } from "@connectrpc/connect";
import {
  BadRequestSchema,
  ErrorInfoSchema,
  RetryInfoSchema,
} from "./gen/google/rpc/error_details_pb.js";

// FAILED_PRECONDITION reasons that are a state or amount conflict, not a gateway decline.
const PRECONDITION_REASONS: ReadonlySet<string> = new Set([
  "FX_RATE_UNAVAILABLE",
  "FX_QUOTE_EXPIRED",
  "INVALID_STATE_TRANSITION",
  "AMOUNT_EXCEEDS_CAPTURABLE",
  "AMOUNT_EXCEEDS_REFUNDABLE",
  "PAYMENT_METHOD_UNUSABLE",
  "NO_GATEWAY_AVAILABLE",
]);

/** The gRPC name of a status code (NOT_FOUND), as the server's documents write it. */
export function codeName(code: Code): string {
  return (Code[code] ?? "UNKNOWN").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
}

export interface ErrorFields {
  code: Code;
  message: string;
  reason?: string;
  domain?: string;
  metadata?: Readonly<Record<string, string>>;
  fieldViolations?: Readonly<Record<string, string>>;
  retryable?: boolean;
  retryDelayMs?: number;
  requestId?: string;
  cause?: unknown;
}

/** A failed call: its status code, message and decoded details. */
export class PaymentsError extends Error {
  readonly code: Code;
  /** The server's message, without the code prefix. */
  readonly rawMessage: string;
  /** Stable UPPER_SNAKE reason of the ErrorInfo (CARD_DECLINED, PAYMENT_NOT_FOUND, ...). */
  readonly reason: string;
  readonly domain: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** field -> description, for INVALID_ARGUMENT. */
  readonly fieldViolations: Readonly<Record<string, string>>;
  /** The server said the call may be retried (it sent a RetryInfo). */
  readonly retryable: boolean;
  /** How long the server asks the caller to wait before retrying, if it said. */
  readonly retryDelayMs: number | undefined;
  /** The request_id (idempotency key) the failed call carried, if any. */
  requestId: string;

  constructor(fields: ErrorFields) {
    const reason = fields.reason ?? "";
    super(`${codeName(fields.code)} ${reason}: ${fields.message}`, { cause: fields.cause });
    this.name = new.target.name;
    this.code = fields.code;
    this.rawMessage = fields.message;
    this.reason = reason;
    this.domain = fields.domain ?? "";
    this.metadata = fields.metadata ?? {};
    this.fieldViolations = fields.fieldViolations ?? {};
    this.retryable = fields.retryable ?? false;
    this.retryDelayMs = fields.retryDelayMs;
    this.requestId = fields.requestId ?? "";
  }

  get codeName(): string {
    return codeName(this.code);
  }
}

/** NOT_FOUND: PAYMENT_NOT_FOUND, REFUND_NOT_FOUND, PAYMENT_METHOD_NOT_FOUND, ... */
export class NotFound extends PaymentsError {}
/** INVALID_ARGUMENT (or OUT_OF_RANGE); `fieldViolations` names each invalid field. */
export class InvalidArgument extends PaymentsError {}
/** ALREADY_EXISTS: PAYMENT_ALREADY_EXISTS (metadata `payment_id`). */
export class AlreadyExists extends PaymentsError {}
/** FAILED_PRECONDITION with a gateway decline: `declineCode` is the reason. */
export class PaymentDeclined extends PaymentsError {
  get declineCode(): string {
    return this.reason;
  }
}
/** FAILED_PRECONDITION other than a decline: a state or amount that forbids the call. */
export class FailedPrecondition extends PaymentsError {}
/** ABORTED: OPERATION_IN_PROGRESS, CONCURRENT_MODIFICATION, IDEMPOTENCY_KEY_IN_USE. */
export class Conflict extends PaymentsError {}
/** RESOURCE_EXHAUSTED: wait `retryDelayMs` before trying again. */
export class RateLimited extends PaymentsError {}
/** UNAVAILABLE: the service or its gateway could not be reached. */
export class Unavailable extends PaymentsError {}
/** DEADLINE_EXCEEDED: no answer in time (the call may or may not have acted). */
export class DeadlineExceeded extends PaymentsError {}
/** UNAUTHENTICATED: TOKEN_MISSING, TOKEN_INVALID, TOKEN_EXPIRED, ... */
export class Unauthenticated extends PaymentsError {}
/** PERMISSION_DENIED: INSUFFICIENT_SCOPE, ACTING_FOR_ANOTHER_USER. */
export class PermissionDenied extends PaymentsError {}
/** INTERNAL, UNKNOWN and any other code. */
export class InternalError extends PaymentsError {}

type ErrorClass = new (fields: ErrorFields) => PaymentsError;

const BY_CODE: ReadonlyMap<Code, ErrorClass> = new Map<Code, ErrorClass>([
  [Code.NotFound, NotFound],
  [Code.InvalidArgument, InvalidArgument],
  [Code.OutOfRange, InvalidArgument],
  [Code.AlreadyExists, AlreadyExists],
  [Code.Aborted, Conflict],
  [Code.ResourceExhausted, RateLimited],
  [Code.Unavailable, Unavailable],
  [Code.DeadlineExceeded, DeadlineExceeded],
  [Code.Unauthenticated, Unauthenticated],
  [Code.PermissionDenied, PermissionDenied],
]);

export function errorClass(code: Code, reason: string): ErrorClass {
  if (code === Code.FailedPrecondition) {
    return reason && !PRECONDITION_REASONS.has(reason) ? PaymentDeclined : FailedPrecondition;
  }
  return BY_CODE.get(code) ?? InternalError;
}

/** The typed error of a failed call (anything thrown by a Connect client or transport). */
export function decodeError(thrown: unknown, requestId = ""): PaymentsError {
  if (thrown instanceof PaymentsError) return thrown;
  const error = ConnectError.from(thrown);
  const fields: ErrorFields = { code: error.code, message: error.rawMessage, requestId, cause: thrown };
  const [info] = error.findDetails(ErrorInfoSchema);
  if (info) {
    fields.reason = info.reason;
    fields.domain = info.domain;
    fields.metadata = { ...info.metadata };
  }
  const violations: Record<string, string> = {};
  for (const bad of error.findDetails(BadRequestSchema)) {
    for (const v of bad.fieldViolations) violations[v.field] = v.description;
  }
  fields.fieldViolations = violations;
  const [retry] = error.findDetails(RetryInfoSchema);
  if (retry) {
    fields.retryable = true;
    if (retry.retryDelay) {
      // Duration seconds are int64 (bigint); a retry delay is far below 2^53 ms.
      fields.retryDelayMs = Number(retry.retryDelay.seconds) * 1000 + retry.retryDelay.nanos / 1e6;
    }
  }
  const kind = errorClass(fields.code, fields.reason ?? "");
  return new kind(fields);
}
