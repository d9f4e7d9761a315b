/**
 * The client: one HTTP/2 connection to the service (Connect's gRPC transport for Node).
 *
 *     const client = PaymentsClient.fromEnv();   // PAYMENTS_GRPC_TARGET, PAYMENTS_TOKEN
 *     const { payment } = await client.createPayment({ orderId, userId, amountMinor: 1099n, ... });
 *     client.close();
 *
 * Every method takes its request (a message or its init shape) and resolves to its response,
 * typed; a failed call rejects with a typed PaymentsError (errors.ts) after the retries
 * policy.ts allows.
 */
import type { DescMessage, DescMethodUnary, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { Client, Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, type Http2SessionManager } from "@connectrpc/connect-node";
import { setTimeout as sleep } from "node:timers/promises";
import { LogicalCall, type CallOptions, type RetryHook } from "./calls.js";
import { RequestValidator } from "./validation.js";
import { DEFAULT_KEEPALIVE, baseUrl, readEnv, sessionManager, type Keepalive, type Tls } from "./connection.js";
import { decodeError } from "./errors.js";
import { bearerToken, typedClient, type TokenSource } from "./interceptors.js";
import { AnalyticsService } from "./gen/payments/v1/analytics_service_pb.js";
import { DisputeService } from "./gen/payments/v1/dispute_service_pb.js";
import { FxService } from "./gen/payments/v1/fx_service_pb.js";
import { PaymentMethodService } from "./gen/payments/v1/payment_method_service_pb.js";
import { PaymentService } from "./gen/payments/v1/payment_service_pb.js";
import { callSettings, type CallSettings } from "./policy.js";

export interface ClientOptions {
  token?: TokenSource;
  /** TLS or mutual TLS (absent: plaintext, for local development). */
  tls?: Tls;
  keepalive?: Keepalive;
  /** Deadlines of each method's attempts and the retry policy. */
  settings?: Partial<CallSettings>;
  /** Called before each retry (method, failed attempt, error, pause), e.g. to log. */
  onRetry?: RetryHook;
  /** Connect interceptors of every attempt (tracing, logging, ...). */
  interceptors?: Interceptor[];
  /** Check the contract's rules before sending (validation.ts): refused locally, as the server would. */
  validate?: boolean;
}

type Method<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;

export class PaymentsClient {
  readonly settings: CallSettings;
  readonly transport: Transport;
  /**
   * The raw generated clients on the same connection, for callers that want them: the
   * token and typed errors, but no deadline, key or retry of their own.
   */
  readonly payments: Client<typeof PaymentService>;
  readonly paymentMethods: Client<typeof PaymentMethodService>;
  readonly fx: Client<typeof FxService>;
  readonly analytics: Client<typeof AnalyticsService>;
  readonly disputes: Client<typeof DisputeService>;
  private readonly session: Http2SessionManager;
  private readonly onRetry: RetryHook | undefined;
  private readonly validator: RequestValidator | undefined;

  constructor(target: string, options: ClientOptions = {}) {
    this.settings = callSettings(options.settings);
    this.onRetry = options.onRetry;
    this.validator = options.validate ? new RequestValidator() : undefined;
    const url = baseUrl(target, options.tls);
    this.session = sessionManager(url, options.tls, options.keepalive ?? DEFAULT_KEEPALIVE);
    const own = [...(options.interceptors ?? []), ...(options.token ? [bearerToken(options.token)] : [])];
    this.transport = createGrpcTransport({ baseUrl: url, sessionManager: this.session, interceptors: own });
    this.payments = typedClient(PaymentService, this.transport);
    this.paymentMethods = typedClient(PaymentMethodService, this.transport);
    this.fx = typedClient(FxService, this.transport);
    this.analytics = typedClient(AnalyticsService, this.transport);
    this.disputes = typedClient(DisputeService, this.transport);
  }

  /** A client configured by PAYMENTS_GRPC_TARGET, PAYMENTS_TOKEN, ... (connection.ts readEnv). */
  static fromEnv(env?: Readonly<Record<string, string | undefined>>, overrides: ClientOptions = {}): PaymentsClient {
    const config = readEnv(env);
    // The caller's settings go over the environment's, field by field.
    const options: ClientOptions = { ...overrides, settings: { ...config.settings, ...overrides.settings } };
    if (config.token !== undefined && options.token === undefined) options.token = config.token;
    if (config.tls !== undefined && options.tls === undefined) options.tls = config.tls;
    return new PaymentsClient(config.target, options);
  }

  // --- PaymentService -------------------------------------------------------------------
  readonly createPayment = this.bind(PaymentService.method.createPayment);
  readonly getPayment = this.bind(PaymentService.method.getPayment);
  readonly listPayments = this.bind(PaymentService.method.listPayments);
  readonly authorizePayment = this.bind(PaymentService.method.authorizePayment);
  readonly confirmPayment = this.bind(PaymentService.method.confirmPayment);
  readonly capturePayment = this.bind(PaymentService.method.capturePayment);
  readonly cancelPayment = this.bind(PaymentService.method.cancelPayment);
  readonly getPaymentStatus = this.bind(PaymentService.method.getPaymentStatus);
  readonly refundPayment = this.bind(PaymentService.method.refundPayment);
  readonly getRefund = this.bind(PaymentService.method.getRefund);
  readonly listRefunds = this.bind(PaymentService.method.listRefunds);
  readonly reviewPayment = this.bind(PaymentService.method.reviewPayment);
  // --- PaymentMethodService -------------------------------------------------------------
  readonly listPaymentMethods = this.bind(PaymentMethodService.method.listPaymentMethods);
  readonly listAvailablePaymentMethods = this.bind(PaymentMethodService.method.listAvailablePaymentMethods);
  readonly addPaymentMethod = this.bind(PaymentMethodService.method.addPaymentMethod);
  readonly deletePaymentMethod = this.bind(PaymentMethodService.method.deletePaymentMethod);
  readonly setDefaultPaymentMethod = this.bind(PaymentMethodService.method.setDefaultPaymentMethod);
  // --- FxService ------------------------------------------------------------------------
  readonly setExchangeRate = this.bind(FxService.method.setExchangeRate);
  readonly getExchangeRate = this.bind(FxService.method.getExchangeRate);
  readonly listExchangeRates = this.bind(FxService.method.listExchangeRates);
  readonly createFxQuote = this.bind(FxService.method.createFxQuote);
  // --- AnalyticsService -----------------------------------------------------------------
  readonly getPaymentStats = this.bind(AnalyticsService.method.getPaymentStats);
  readonly getRevenue = this.bind(AnalyticsService.method.getRevenue);
  readonly getDisputeStats = this.bind(AnalyticsService.method.getDisputeStats);
  // --- DisputeService -------------------------------------------------------------------
  readonly listDisputes = this.bind(DisputeService.method.listDisputes);
  readonly getDispute = this.bind(DisputeService.method.getDispute);

  /**
   * One logical call: attempts with the same request_id until one answers, the error is
   * final, or the policy allows no more.
   */
  async call<I extends DescMessage, O extends DescMessage>(
    method: DescMethodUnary<I, O>,
    request: MessageInitShape<I>,
    options: CallOptions = {},
  ): Promise<MessageShape<O>> {
    const call = LogicalCall.start(method, request, this.settings, options, this.onRetry);
    this.validator?.check(method.input, call.request);
    for (;;) {
      call.attempt += 1;
      try {
        const response = await this.transport.unary(
          method,
          options.signal,
          call.timeoutMs,
          options.headers,
          call.request as MessageInitShape<I>,
        );
        return response.message;
      } catch (thrown) {
        const error = decodeError(thrown, call.requestId);
        const delay = options.signal?.aborted ? undefined : call.retryAfter(error);
        if (delay === undefined) throw error;
        await sleep(delay, undefined, options.signal ? { signal: options.signal } : {});
      }
    }
  }

  /** Ends the connection; calls in flight fail. */
  close(): void {
    this.session.abort();
  }

  private bind<I extends DescMessage, O extends DescMessage>(method: DescMethodUnary<I, O>): Method<I, O> {
    return (request, options) => this.call(method, request, options);
  }

  /** Never shows the token. */
  toString(): string {
    return `PaymentsClient(maxAttempts=${this.settings.retry.maxAttempts})`;
  }
}
