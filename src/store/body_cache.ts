/**
 * Bodies of just-accepted messages, kept in memory between accept and send: a delivery that
 * leaves right after its message arrived (the usual case) is sent without reading its body back
 * from the store. Bounded by count and bytes (the oldest goes first); a miss reads the store.
 *
 * @module
 */

/** Raw bodies by `msg_id`. */
export interface BodyCache {
  get(msgId: string): Uint8Array | undefined;
  set(msgId: string, body: Uint8Array): void;
  delete(msgId: string): void;
  /** Forgets every body (after a purge). */
  clear(): void;
}

/** Creates an empty cache of at most `maxEntries` bodies and `maxBytes` bytes. */
export function createBodyCache(maxEntries = 2048, maxBytes = 8 * 1024 * 1024): BodyCache {
  const bodies = new Map<string, Uint8Array>();
  let bytes = 0;
  const remove = (msgId: string) => {
    const body = bodies.get(msgId);
    if (!body) return;
    bodies.delete(msgId);
    bytes -= body.byteLength;
  };
  return {
    get: (msgId) => bodies.get(msgId),
    set(msgId, body) {
      if (body.byteLength > maxBytes / 8) return;
      remove(msgId);
      while (bodies.size > 0 && (bodies.size >= maxEntries || bytes + body.byteLength > maxBytes)) {
        remove(bodies.keys().next().value!);
      }
      bodies.set(msgId, body);
      bytes += body.byteLength;
    },
    delete: remove,
    clear() {
      bodies.clear();
      bytes = 0;
    },
  };
}
