/**
 * Reading request bodies under a size limit and a deadline, checked while reading: a client that
 * lies about its length, sends chunks forever or trickles them (slowloris) is cut off at the limit
 * or the deadline, not after buffering everything or holding a connection for minutes. Compressed
 * bodies are refused (415): the relay stores and forwards the bytes Coder sent.
 *
 * @module
 */
import { concatBytes } from "../bytes.ts";
import { HttpError } from "./errors.ts";

/** How long a whole request body may take to arrive. */
export const BODY_READ_TIMEOUT_MS = 30_000;

/** Reads the whole body, or throws 413 past `limit` bytes, 408 past the deadline, 415 if encoded. */
export async function readBody(
  req: Request,
  limit: number,
  timeoutMs = BODY_READ_TIMEOUT_MS,
): Promise<Uint8Array> {
  const tooLarge = () =>
    new HttpError(413, "body_too_large", `request body exceeds the ${limit}-byte limit`);
  const declared = req.headers.get("content-length");
  const encoding = req.headers.get("content-encoding")?.trim().toLowerCase();
  if (encoding && encoding !== "identity") {
    await req.body?.cancel().catch(() => {});
    throw new HttpError(
      415,
      "unsupported_encoding",
      "Content-Encoding is not supported: send the JSON body uncompressed",
    );
  }
  if (declared !== null && Number(declared) > limit) {
    await req.body?.cancel().catch(() => {});
    throw tooLarge();
  }
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(
        new HttpError(408, "body_timeout", `request body not received within ${timeoutMs} ms`),
      );
    }, timeoutMs);
  });
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), deadline]).catch((err) => {
        if (err instanceof HttpError) throw err;
        // The client went away mid-body: nothing to answer, nothing wrong with the relay.
        throw new HttpError(400, "body_incomplete", "the client closed the connection mid-body");
      });
      if (done) break;
      size += value.byteLength;
      if (size > limit) throw tooLarge();
      chunks.push(value);
    }
  } catch (err) {
    await reader.cancel().catch(() => {});
    throw err;
  } finally {
    clearTimeout(timer);
  }
  const body = concatBytes(chunks);
  if (body[0] === 0x1f && body[1] === 0x8b) {
    throw new HttpError(415, "unsupported_encoding", "body is gzip-compressed: send plain JSON");
  }
  return body;
}
