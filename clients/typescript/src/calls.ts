/**
 * One logical call: the request with its idempotency key, the deadline of each attempt, and
 * the decision after a failed attempt (policy.ts). The key is made once here and the same
 * request, key included, is sent on every attempt.
 */
import { randomUUID } from "node:crypto";
import { clone, create, isMessage, type DescMessage, type DescMethodUnary, type MessageInitShape, type MessageShape } from "@bufbuild/protobuf";
import type { PaymentsError } from "./errors.js";
import { READS, deadlineMs, nextDelayMs, type CallSettings } from "./policy.js";

/** Called before each retry: (method, attempt that failed, its error, pause before the next). */
export type RetryHook = (method: string, attempt: number, error: PaymentsError, delayMs: number) => void;

export interface CallOptions {
  /** The deadline of each attempt (default: per method, CallSettings). */
  timeoutMs?: number;
  /** The idempotency key of a mutating call; made for you when absent (and not on the request). */
  requestId?: string;
  /** Extra request headers (metadata) of every attempt. */
  headers?: Readonly<Record<string, string>>;
  /** Abandons the call, the pause between attempts included. */
  signal?: AbortSignal;
}

export class LogicalCall<I extends DescMessage, O extends DescMessage> {
  attempt = 0;

  private constructor(
    readonly method: DescMethodUnary<I, O>,
    /** As sent on every attempt: the same request_id each time. */
    readonly request: MessageShape<I>,
    readonly requestId: string,
    readonly timeoutMs: number,
    private readonly settings: CallSettings,
    private readonly onRetry: RetryHook | undefined,
  ) {}

  static start<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    init: MessageInitShape<I>,
    settings: CallSettings,
    options: CallOptions,
    onRetry: RetryHook | undefined,
  ): LogicalCall<I, O> {
    // The caller's message is never changed: a message is copied (create() would return it).
    const request = (isMessage(init, method.input) ? clone(method.input, init) : create(method.input, init)) as MessageShape<I>;
    const field = method.input.fields.find((f) => f.name === "request_id");
    let key = "";
    if (field) {
      // An AIP-155 key field: made once per logical call; the caller's own key wins.
      const fields = request as unknown as Record<string, unknown>;
      const own = fields[field.localName];
      key = options.requestId || (typeof own === "string" ? own : "") || randomUUID();
      fields[field.localName] = key;
    }
    const timeout = options.timeoutMs ?? deadlineMs(settings, method.name);
    return new LogicalCall(method, request, key, timeout, settings, onRetry);
  }

  get read(): boolean {
    return READS.has(this.method.name);
  }

  /** Called with the failed attempt's error: the pause before the next, or undefined. */
  retryAfter(error: PaymentsError): number | undefined {
    error.requestId = this.requestId;
    const delay = nextDelayMs(this.settings, error, this.attempt, this.read, Boolean(this.requestId));
    if (delay !== undefined) this.onRetry?.(this.method.name, this.attempt, error, delay);
    return delay;
  }
}
