/**
 * Fan-out event keys this process knows to be live: written by one of its own commits, or read
 * back after a conflict. A Coder fan-out arrives as a burst of copies with one event key; knowing
 * the key is held lets each copy be recorded as `deduplicated` in the next group commit instead of
 * each one failing a shared commit and then conflicting alone. Safe because a dedupe entry is never
 * deleted before it expires: a key seen live until `expiresAt` stays held by the same message.
 *
 * @module
 */

/** Who holds an event key, and until when. */
export interface LiveKey {
  readonly msgId: string;
  readonly expiresAt: number;
}

/** A bounded map of live event keys (the oldest entry goes first when full). */
export interface LiveKeys {
  /** The holder of `key` at time `at`, or undefined when unknown or expired. */
  get(key: string, at: number): string | undefined;
  set(key: string, live: LiveKey): void;
}

/** Creates an empty map holding at most `maxEntries` keys. */
export function createLiveKeys(maxEntries = 10_000): LiveKeys {
  const keys = new Map<string, LiveKey>();
  return {
    get(key, at) {
      const live = keys.get(key);
      if (!live) return undefined;
      if (live.expiresAt > at) return live.msgId;
      keys.delete(key);
      return undefined;
    },
    set(key, live) {
      keys.delete(key);
      if (keys.size >= maxEntries) keys.delete(keys.keys().next().value!);
      keys.set(key, live);
    },
  };
}

/** The map key of one destination's event key. */
export function liveKey(destination: string, eventKey: string): string {
  return `${destination}\0${eventKey}`;
}
