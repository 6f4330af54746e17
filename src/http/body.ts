/**
 * Reading request bodies under a size limit, checked while reading: a client that lies about its
 * length, or sends chunks forever, is cut off at the limit, not after buffering everything.
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";
import { HttpError } from "./errors.ts";

/** Reads the whole body, or throws 413 past `limit` bytes. */
export async function readBody(req: Request, limit: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new HttpError(413, "body_too_large", `request body exceeds the ${limit}-byte limit`);
  const declared = req.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    await req.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!req.body) return new Uint8Array();
  if (declared !== null) {
    // The server enforces the declared length; one copy, no chunk bookkeeping.
    return new Uint8Array(await req.arrayBuffer());
  }
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge();
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}
