/**
 * How the client reaches the service: the target, TLS or mutual TLS, keepalive pings, and
 * the configuration read from the environment (the same variables as the Python client).
 */
import { readFileSync } from "node:fs";
import type { SecureClientSessionOptions } from "node:http2";
import { Http2SessionManager } from "@connectrpc/connect-node";
import {
  DEFAULT_READ_DEADLINE_MS,
  DEFAULT_RETRY_POLICY,
  DEFAULT_WRITE_DEADLINE_MS,
  callSettings,
  type CallSettings,
} from "./policy.js";

/** PEM contents (not paths) of the roots to trust and, for mutual TLS, the client's pair. */
export interface Tls {
  ca?: string | Buffer;
  cert?: string | Buffer;
  key?: string | Buffer;
  /** The name expected in the server's certificate, when it is not the target's host. */
  serverName?: string;
}

/** HTTP/2 pings that keep an idle connection alive and find a dead one early. */
export interface Keepalive {
  pingIntervalMs?: number;
  pingTimeoutMs?: number;
  pingIdleConnection?: boolean;
  idleConnectionTimeoutMs?: number;
}

export const DEFAULT_KEEPALIVE: Keepalive = Object.freeze({
  pingIntervalMs: 30_000,
  pingTimeoutMs: 10_000,
  pingIdleConnection: false,
});

/** The base URL of a target: `host:port` (plaintext unless TLS) or a full URL. */
export function baseUrl(target: string, tls: Tls | undefined): string {
  if (/^https?:\/\//.test(target)) return target;
  return `${tls ? "https" : "http"}://${target}`;
}

/** One HTTP/2 connection, owned by the client so that close() can end it. */
export function sessionManager(url: string, tls: Tls | undefined, keepalive: Keepalive): Http2SessionManager {
  const options: SecureClientSessionOptions = {};
  if (tls) {
    if (tls.ca !== undefined) options.ca = tls.ca;
    if (tls.cert !== undefined) options.cert = tls.cert;
    if (tls.key !== undefined) options.key = tls.key;
    if (tls.serverName !== undefined) options.servername = tls.serverName;
  }
  return new Http2SessionManager(url, keepalive, options);
}

export interface EnvConfig {
  target: string;
  token: string | undefined;
  tls: Tls | undefined;
  settings: CallSettings;
}

/**
 * The configuration of PaymentsClient.fromEnv():
 *   PAYMENTS_GRPC_TARGET   host:port (default 127.0.0.1:9090), or an https:// URL
 *   PAYMENTS_TOKEN         the bearer token
 *   PAYMENTS_TLS           1/true: TLS with the system's roots (implied by the next three)
 *   PAYMENTS_TLS_CA        path of a PEM bundle of the roots to trust
 *   PAYMENTS_TLS_CERT, PAYMENTS_TLS_KEY  paths of the client certificate and key (mutual TLS)
 *   PAYMENTS_TLS_SERVER_NAME  the name expected in the server's certificate
 *   PAYMENTS_READ_DEADLINE, PAYMENTS_WRITE_DEADLINE  seconds per attempt (defaults 5 / 30)
 *   PAYMENTS_MAX_ATTEMPTS  attempts per logical call, retries included (default 5)
 */
export function readEnv(env: Readonly<Record<string, string | undefined>> = process.env): EnvConfig {
  const target = env.PAYMENTS_GRPC_TARGET?.trim() || "127.0.0.1:9090";
  const [ca, cert, key] = ["PAYMENTS_TLS_CA", "PAYMENTS_TLS_CERT", "PAYMENTS_TLS_KEY"].map(
    (name) => env[name] || undefined,
  );
  if (Boolean(cert) !== Boolean(key)) {
    throw new Error("PAYMENTS_TLS_CERT and PAYMENTS_TLS_KEY go together (mutual TLS)");
  }
  const useTls =
    ["1", "true", "yes"].includes((env.PAYMENTS_TLS ?? "").toLowerCase()) ||
    Boolean(ca || cert) ||
    target.startsWith("https://");
  let tls: Tls | undefined;
  if (useTls) {
    tls = {};
    if (ca) tls.ca = readFileSync(ca);
    if (cert && key) {
      tls.cert = readFileSync(cert);
      tls.key = readFileSync(key);
    }
    if (env.PAYMENTS_TLS_SERVER_NAME) tls.serverName = env.PAYMENTS_TLS_SERVER_NAME;
  }
  const seconds = (name: string, fallbackMs: number): number => {
    const raw = env[name];
    if (!raw) return fallbackMs;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} is not a number of seconds`);
    return value * 1000;
  };
  const maxAttempts = Number(env.PAYMENTS_MAX_ATTEMPTS ?? DEFAULT_RETRY_POLICY.maxAttempts);
  if (!Number.isInteger(maxAttempts) || maxAttempts < 1) {
    throw new Error("PAYMENTS_MAX_ATTEMPTS is not a positive integer");
  }
  const settings = callSettings({
    retry: { ...DEFAULT_RETRY_POLICY, maxAttempts },
    readDeadlineMs: seconds("PAYMENTS_READ_DEADLINE", DEFAULT_READ_DEADLINE_MS),
    writeDeadlineMs: seconds("PAYMENTS_WRITE_DEADLINE", DEFAULT_WRITE_DEADLINE_MS),
  });
  return { target, token: env.PAYMENTS_TOKEN || undefined, tls, settings };
}
