/** The retry rule, as a table: never a retry that could act twice. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { Code, DEFAULT_RETRY_POLICY, PaymentsError, callSettings, isRetryable, nextDelayMs } from "../index.js";

const error = (code: Code, reason = "") => new PaymentsError({ code, message: "m", reason });

test("which failures may be retried, for a read / a keyed call / a keyless write", () => {
  const table: [PaymentsError, boolean, boolean, boolean][] = [
    [error(Code.Unavailable), true, true, false],
    [error(Code.DeadlineExceeded), true, true, false],
    [error(Code.Aborted, "IDEMPOTENCY_KEY_IN_USE"), false, true, false],
    [error(Code.Aborted, "CONCURRENT_MODIFICATION"), false, false, false],
    [error(Code.ResourceExhausted, "RATE_LIMITED"), true, true, true],
    [error(Code.FailedPrecondition, "CARD_DECLINED"), false, false, false],
    [error(Code.InvalidArgument, "VALIDATION_FAILED"), false, false, false],
    [error(Code.Internal), false, false, false],
    [error(Code.Unknown), false, false, false],
  ];
  for (const [failure, read, keyed, keyless] of table) {
    assert.deepEqual(
      [isRetryable(failure, true, false), isRetryable(failure, false, true), isRetryable(failure, false, false)],
      [read, keyed, keyless],
      failure.message,
    );
  }
});

test("exponential backoff with full jitter, capped; no delay past maxAttempts", () => {
  const settings = callSettings({ retry: { ...DEFAULT_RETRY_POLICY, random: () => 1 } });
  const delays = [1, 2, 3, 4].map((attempt) => nextDelayMs(settings, error(Code.Unavailable), attempt, true, false));
  assert.deepEqual(delays, [100, 200, 400, 800]);
  assert.equal(nextDelayMs(settings, error(Code.Unavailable), 5, true, false), undefined);
  const capped = callSettings({ retry: { ...DEFAULT_RETRY_POLICY, maxAttempts: 20, random: () => 1 } });
  assert.equal(nextDelayMs(capped, error(Code.Unavailable), 15, true, false), 5_000);
  const none = callSettings({ retry: { ...DEFAULT_RETRY_POLICY, random: () => 0 } });
  assert.equal(nextDelayMs(none, error(Code.Unavailable), 1, true, false), 0);
});
