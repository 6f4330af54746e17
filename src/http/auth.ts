/**
 * Credentials, as Hono middleware mounted on the paths they guard. Coder's webhook client can only
 * carry a token in the URL, so the receiver (and `/metrics`) accept it as the Basic password
 * (`https://relay:TOKEN@host/`), as `?token=`, or as `Authorization: Bearer`. The admin API takes
 * `Authorization: Bearer $RELAY_ADMIN_TOKEN` only: a token in a query string ends up in proxy logs.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { timingSafeEqual } from "../bytes.ts";
import { HttpError } from "./errors.ts";

const encoder = new TextEncoder();

/** The credential a request presents, from whichever place it uses. */
export function presentedToken(req: Request, url: URL): string | undefined {
  const header = req.headers.get("authorization");
  if (header) {
    const [scheme, value = ""] = header.split(/\s+/, 2);
    if (/^bearer$/i.test(scheme)) return value;
    if (/^basic$/i.test(scheme)) {
      try {
        const decoded = atob(value);
        const colon = decoded.indexOf(":");
        return colon >= 0 ? decoded.slice(colon + 1) : decoded;
      } catch {
        return undefined;
      }
    }
  }
  return url.searchParams.get("token") ?? undefined;
}

/** A middleware for one configured token; without a token every request passes. */
export function inboundAuth(token: string | undefined): MiddlewareHandler {
  if (!token) return async (_c, next) => await next();
  const expected = encoder.encode(token);
  return async (c, next) => {
    const presented = presentedToken(c.req.raw, new URL(c.req.url));
    if (presented === undefined || !timingSafeEqual(presented, expected)) {
      throw new HttpError(
        401,
        "unauthorized",
        presented === undefined ? "credentials required" : "wrong credentials",
        { "www-authenticate": 'Basic realm="coder-relay"' },
      );
    }
    await next();
  };
}

/** The admin middleware: 403 when disabled, 401 without a bearer token, 403 with a wrong one. */
export function adminAuth(token: string | undefined): MiddlewareHandler {
  if (!token) {
    return () => {
      throw new HttpError(
        403,
        "admin_disabled",
        "the admin API is disabled: set RELAY_ADMIN_TOKEN to enable it",
      );
    };
  }
  const expected = encoder.encode(token);
  return async (c, next) => {
    const m = (c.req.header("authorization") ?? "").match(/^Bearer\s+(\S+)\s*$/i);
    if (!m) {
      throw new HttpError(
        401,
        "unauthorized",
        "the admin API needs Authorization: Bearer <RELAY_ADMIN_TOKEN>",
        { "www-authenticate": 'Bearer realm="coder-relay admin"' },
      );
    }
    if (!timingSafeEqual(m[1], expected)) {
      throw new HttpError(403, "forbidden", "wrong admin token");
    }
    await next();
  };
}
