/**
 * Inbound credentials. Coder's webhook client can only carry them in the URL, so a token is accepted
 * as the Basic password (`https://relay:TOKEN@host/`), as `?token=`, or as `Authorization: Bearer`.
 *
 * @module
 */
import { HttpError } from "./errors.ts";

const encoder = new TextEncoder();

/** Compares in time that depends only on the expected value's length. */
export function timingSafeEqual(actual: string, expected: Uint8Array): boolean {
  const a = encoder.encode(actual);
  let diff = a.byteLength ^ expected.byteLength;
  for (let i = 0; i < expected.byteLength; i++) diff |= (a[i] ?? 0) ^ expected[i];
  return diff === 0;
}

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
