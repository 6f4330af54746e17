/**
 * Byte helpers shared by the HTTP layer, the signatures and the stores: leaf primitives that
 * import nothing.
 *
 * @module
 */

/** Joins chunks into one array (returns the only chunk as is). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

const encoder = new TextEncoder();

/** Compares in time that depends only on the expected value's length. */
export function timingSafeEqual(actual: string, expected: Uint8Array): boolean {
  const a = encoder.encode(actual);
  let diff = a.byteLength ^ expected.byteLength;
  for (let i = 0; i < expected.byteLength; i++) diff |= (a[i] ?? 0) ^ expected[i];
  return diff === 0;
}
