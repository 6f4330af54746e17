/**
 * Inbound credentials. Coder's webhook client can only carry them in the URL, so a token is accepted
 * as the Basic password (`https://relay:TOKEN@host/`), as `?token=`, or as `Authorization: Bearer`.
 *
 * @module
 */
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

/** A checker for one configured token; without a token every request passes. */
export function inboundAuth(token: string | undefined): (req: Request, url: URL) => void {
  if (!token) return () => {};
  const expected = encoder.encode(token);
  return (req, url) => {
    const presented = presentedToken(req, url);
    if (presented === undefined || !timingSafeEqual(presented, expected)) {
      throw new HttpError(
        401,
        "unauthorized",
        presented === undefined ? "credentials required" : "wrong credentials",
        { "www-authenticate": 'Basic realm="coder-relay"' },
      );
    }
  };
}
