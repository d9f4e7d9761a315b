/** What the client puts around Connect's transports and clients (usable by hand too). */
import type { DescService } from "@bufbuild/protobuf";
import { createClient, type Client, type Interceptor, type Transport } from "@connectrpc/connect";
import { decodeError } from "./errors.js";

/** A bearer token, or a function (plain or async) returning the current one. */
export type TokenSource = string | (() => string | Promise<string>);

/**
 * Adds `authorization: Bearer <token>` to every attempt that does not carry its own; a
 * provider is asked on each attempt, so a refreshed token is picked up by the next retry.
 */
export function bearerToken(token: TokenSource): Interceptor {
  return (next) => async (request) => {
    if (!request.header.has("authorization")) {
      const current = typeof token === "function" ? await token() : token;
      request.header.set("authorization", `Bearer ${current}`);
    }
    return next(request);
  };
}

/**
 * A generated client whose failed calls reject with the typed PaymentsError (errors.ts).
 * Not an interceptor: Connect wraps whatever an interceptor throws back into a ConnectError.
 */
export function typedClient<T extends DescService>(service: T, transport: Transport): Client<T> {
  const raw = createClient(service, transport) as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
  const typed: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const [name, call] of Object.entries(raw)) {
    typed[name] = async (...args) => {
      try {
        return await call(...args);
      } catch (thrown) {
        throw decodeError(thrown);
      }
    };
  }
  return typed as unknown as Client<T>;
}
