/**
 * A payments.v1 server of the test's own (Connect's Node adapter on a free port, real gRPC
 * over HTTP/2) whose handlers answer as the test scripts them: errors with google.rpc
 * details, stalls past the deadline. For the client's rules that a live server cannot be
 * made to exercise on demand.
 */
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as http2 from "node:http2";
import type { AddressInfo } from "node:net";
import { BadRequestSchema, ErrorInfoSchema, RetryInfoSchema } from "../gen/google/rpc/error_details_pb.js";
import { PaymentSchema } from "../gen/payments/v1/payment_pb.js";
import { PaymentService } from "../gen/payments/v1/payment_service_pb.js";

/** What the handler does on one attempt: answer, or throw this error. */
export type Script = (attempt: number, context: HandlerContext) => ConnectError | undefined | Promise<ConnectError | undefined>;

export interface Seen {
  method: string;
  requestId: string;
  authorization: string | null;
  timeoutMs: number | undefined;
}

export function failure(
  code: Code,
  reason: string,
  extra: { retryDelayMs?: number; violations?: Record<string, string> } = {},
): ConnectError {
  const details: { desc: typeof ErrorInfoSchema | typeof RetryInfoSchema | typeof BadRequestSchema; value: object }[] = [
    { desc: ErrorInfoSchema, value: { reason, domain: "payments.example.com", metadata: { k: "v" } } },
  ];
  if (extra.retryDelayMs !== undefined) {
    const ms = extra.retryDelayMs;
    const retryDelay = create(DurationSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1e6 });
    details.push({ desc: RetryInfoSchema, value: { retryDelay } });
  }
  if (extra.violations) {
    const fieldViolations = Object.entries(extra.violations).map(([field, description]) => ({ field, description }));
    details.push({ desc: BadRequestSchema, value: { fieldViolations } });
  }
  return new ConnectError(`scripted ${reason}`, code, undefined, details as never);
}

export class FaultServer {
  readonly seen: Seen[] = [];
  script: Script = () => undefined;
  private server: http2.Http2Server | undefined;
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  async start(): Promise<string> {
    const payment = (paymentId: string): MessageInitShape<typeof PaymentSchema> => ({ paymentId, amountMinor: 1099n, currency: "EUR" });
    const answer = async (method: string, requestId: string, paymentId: string, context: HandlerContext) => {
      this.seen.push({
        method,
        requestId,
        authorization: context.requestHeader.get("authorization"),
        timeoutMs: context.timeoutMs(),
      });
      const attempt = this.seen.filter((s) => s.method === method).length;
      const error = await this.script(attempt, context);
      if (error) throw error;
      return { payment: payment(paymentId) };
    };
    const routes = (router: ConnectRouter) =>
      router.service(PaymentService, {
        capturePayment: (req, context) => answer("CapturePayment", req.requestId, req.paymentId, context),
        getPayment: (req, context) => answer("GetPayment", "", req.paymentId, context),
      });
    this.server = http2.createServer(connectNodeAdapter({ routes }));
    this.server.on("session", (session: http2.ServerHttp2Session) => {
      this.sessions.add(session);
      session.on("close", () => this.sessions.delete(session));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Stops listening and cuts the open connections (close() alone waits for them). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const session of this.sessions) session.destroy();
    await closed;
  }
}
