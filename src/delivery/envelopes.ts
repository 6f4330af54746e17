/**
 * Parsed envelopes by `msg_id`, so each message is parsed once, not once per send: the receiver
 * hands over the envelope it already validated (`Worker.wake`), and a message read back from the
 * store is parsed once for all its destinations. Bounded (the oldest goes first); a miss reads
 * and parses the stored body.
 *
 * @module
 */
import { type Envelope, EnvelopeSchema } from "../coder.ts";
import type { Outbox } from "../store/store.ts";

/** Envelopes by `msg_id`. */
export interface EnvelopeCache {
  /** The message's envelope, or undefined when its body is gone or no longer a Coder webhook. */
  get(msgId: string): Promise<Envelope | undefined>;
  /** Remembers an envelope already parsed (a message just accepted). */
  set(envelope: Envelope): void;
}

/** Creates an empty cache of at most `maxEntries` envelopes over `store`'s bodies. */
export function createEnvelopeCache(
  store: Pick<Outbox, "getBody">,
  maxEntries = 1024,
): EnvelopeCache {
  const cached = new Map<string, Promise<Envelope | undefined>>();
  const put = (msgId: string, p: Promise<Envelope | undefined>) => {
    if (cached.size >= maxEntries) cached.delete(cached.keys().next().value!);
    cached.set(msgId, p);
  };
  return {
    get(msgId) {
      const hit = cached.get(msgId);
      if (hit) return hit;
      const p = load(store, msgId);
      put(msgId, p);
      // A body that is missing, or a read that failed, is not remembered: the next send reads again.
      p.then((e) => e ?? cached.delete(msgId), () => cached.delete(msgId));
      return p;
    },
    set(envelope) {
      cached.delete(envelope.msg_id);
      put(envelope.msg_id, Promise.resolve(envelope));
    },
  };
}

async function load(store: Pick<Outbox, "getBody">, msgId: string): Promise<Envelope | undefined> {
  const body = await store.getBody(msgId);
  if (!body) return undefined;
  const parsed = EnvelopeSchema.safeParse(JSON.parse(new TextDecoder().decode(body)));
  return parsed.success ? parsed.data : undefined;
}
