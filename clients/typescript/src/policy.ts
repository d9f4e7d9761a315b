/**
 * What the client does around a call: which methods are reads, their deadlines, and when a
 * failed attempt is retried and after how long (the same rules as the Python client's
 * policy.py).
 *
 * The retry rule never lets a call act twice:
 * - UNAVAILABLE, DEADLINE_EXCEEDED: retried only for reads and for calls that carry a
 *   `request_id` (the server replays the first answer for a repeated key). The client gives
 *   every mutating call a key, made once per logical call and reused on each attempt.
 * - ABORTED with reason IDEMPOTENCY_KEY_IN_USE: another attempt with the same key is still
 *   running; retried (the same key again).
 * - RESOURCE_EXHAUSTED: rate limited before anything was done; retried after the server's
 *   RetryInfo delay.
 * Everything else (declines, invalid input, other conflicts, ...) is thrown at once.
 */
import { Code } from "@connectrpc/connect";
import type { PaymentsError } from "./errors.js";

/** The RPCs that change nothing (their proto names). */
export const READS: ReadonlySet<string> = new Set([
  "GetPayment",
  "ListPayments",
  "GetPaymentStatus",
  "GetRefund",
  "ListRefunds",
  "ListPaymentMethods",
  "ListAvailablePaymentMethods",
  "GetExchangeRate",
  "ListExchangeRates",
  "GetPaymentStats",
  "GetRevenue",
  "GetDisputeStats",
  "ListDisputes",
  "GetDispute",
]);

// Default deadline of each attempt: reads answer from the database; calls that reach a
// payment gateway may take longer.
export const DEFAULT_READ_DEADLINE_MS = 5_000;
export const DEFAULT_WRITE_DEADLINE_MS = 30_000;

export interface RetryPolicy {
  /** Attempts per logical call, the first included (1: no retries). */
  maxAttempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  multiplier: number;
  /** A rate limit's delay is waited in full, plus up to this fraction of it as jitter. */
  rateLimitJitter: number;
  /** A number in [0, 1): the jitter's source (Math.random; a fixed one in tests). */
  random: () => number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxAttempts: 5,
  initialBackoffMs: 100,
  maxBackoffMs: 5_000,
  multiplier: 2,
  rateLimitJitter: 0.1,
  random: Math.random,
});

export const NO_RETRIES: RetryPolicy = Object.freeze({ ...DEFAULT_RETRY_POLICY, maxAttempts: 1 });

/**
 * Exponential backoff with full jitter: the pause after failed attempt `attempt` (1-based)
 * is a random time in [0, min(maxBackoff, initialBackoff * multiplier^(attempt-1))].
 */
export function backoffMs(policy: RetryPolicy, attempt: number): number {
  const ceiling = Math.min(
    policy.maxBackoffMs,
    policy.initialBackoffMs * policy.multiplier ** (attempt - 1),
  );
  return ceiling * policy.random();
}

/** The pause after a failed attempt: the server's RetryInfo delay for a rate limit. */
export function delayAfterMs(policy: RetryPolicy, error: PaymentsError, attempt: number): number {
  if (error.code === Code.ResourceExhausted && error.retryDelayMs) {
    const delay = error.retryDelayMs;
    return delay + delay * policy.rateLimitJitter * policy.random();
  }
  return backoffMs(policy, attempt);
}

/** Whether another attempt of a failed call can only do what the first meant to do. */
export function isRetryable(error: PaymentsError, read: boolean, keyed: boolean): boolean {
  switch (error.code) {
    case Code.ResourceExhausted:
      return true; // refused before acting
    case Code.Aborted:
      return error.reason === "IDEMPOTENCY_KEY_IN_USE" && keyed;
    case Code.Unavailable:
    case Code.DeadlineExceeded:
      return read || keyed;
    default:
      return false;
  }
}

/** Deadlines per method and the retry policy of a client. */
export interface CallSettings {
  retry: RetryPolicy;
  readDeadlineMs: number;
  writeDeadlineMs: number;
  /** Per-method overrides by proto name, e.g. { CreatePayment: 60_000 }. */
  deadlinesMs: Readonly<Record<string, number>>;
}

export function callSettings(overrides: Partial<CallSettings> = {}): CallSettings {
  return {
    retry: DEFAULT_RETRY_POLICY,
    readDeadlineMs: DEFAULT_READ_DEADLINE_MS,
    writeDeadlineMs: DEFAULT_WRITE_DEADLINE_MS,
    deadlinesMs: {},
    ...overrides,
  };
}

export function deadlineMs(settings: CallSettings, method: string): number {
  const own = settings.deadlinesMs[method];
  if (own !== undefined) return own;
  return READS.has(method) ? settings.readDeadlineMs : settings.writeDeadlineMs;
}

/** The pause before another attempt after failed attempt `attempt`, or undefined: throw. */
export function nextDelayMs(
  settings: CallSettings,
  error: PaymentsError,
  attempt: number,
  read: boolean,
  keyed: boolean,
): number | undefined {
  if (attempt >= settings.retry.maxAttempts) return undefined;
  if (!isRetryable(error, read, keyed)) return undefined;
  return delayAfterMs(settings.retry, error, attempt);
}
