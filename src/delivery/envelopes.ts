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

/** A stored message, parsed, with the text Coder sent (forwarded verbatim where it can be). */
export interface LoadedMessage {
  readonly envelope: Envelope;
  readonly text: string;
}

/** Parsed messages by `msg_id`. */
export interface EnvelopeCache {
  /** The message, or undefined when its body is gone or no longer a Coder webhook. */
  get(msgId: string): Promise<LoadedMessage | undefined>;
  /** Remembers a message already parsed (one just accepted). */
  set(message: LoadedMessage): void;
}

/** Creates an empty cache of at most `maxEntries` messages over `store`'s bodies. */
export function createEnvelopeCache(
  store: Pick<Outbox, "getBody">,
  maxEntries = 1024,
): EnvelopeCache {
  const cached = new Map<string, Promise<LoadedMessage | undefined>>();
  const put = (msgId: string, p: Promise<LoadedMessage | undefined>) => {
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
      p.then((m) => m ?? cached.delete(msgId), () => cached.delete(msgId));
      return p;
    },
    set(message) {
      const msgId = message.envelope.msg_id;
      cached.delete(msgId);
      put(msgId, Promise.resolve(message));
    },
  };
}

async function load(
  store: Pick<Outbox, "getBody">,
  msgId: string,
): Promise<LoadedMessage | undefined> {
  const body = await store.getBody(msgId);
  if (!body) return undefined;
  const text = new TextDecoder().decode(body);
  const parsed = EnvelopeSchema.safeParse(JSON.parse(text));
  return parsed.success ? { envelope: parsed.data, text } : undefined;
}
