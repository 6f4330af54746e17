/**
 * What a destination type implements. A sink turns one stored Coder message into one request and
 * says, without throwing, how it went; the worker owns retries, backoff, pauses and bookkeeping.
 *
 * @module
 */
import type { Envelope } from "../coder.ts";

/** Everything a sink may use to send one message. */
export interface SendContext {
  readonly msgId: string;
  readonly envelope: Envelope;
  /** First receipt, ms since epoch: the event time. */
  readonly receivedAt: number;
  /** 1 for the first attempt. */
  readonly attempt: number;
  /**
   * The body exactly as Coder sent it, when known: forwarded as is where nothing must be removed,
   * so numbers keep their digits (`12345678901234567890123` does not become `1.23…e+22`).
   */
  readonly body?: string;
}

/**
 * The outcome of one attempt. `temporary_failure` is retried (after `retryAfterMs` when the
 * destination said so, which also pauses the whole destination); `unknown` means the request may
 * have arrived and must not be repeated blindly.
 */
export type SendResult =
  | { readonly state: "sent"; readonly status?: number; readonly detail?: string }
  | {
    readonly state: "temporary_failure";
    readonly reason: string;
    readonly status?: number;
    readonly retryAfterMs?: number;
  }
  | {
    readonly state: "permanent_failure";
    readonly reason: string;
    readonly status?: number;
    /**
     * The destination itself is gone (a webhook answering 410): the worker marks it disabled in the
     * store and holds its deliveries until it is edited or resumed, instead of failing every
     * message one by one.
     */
    readonly disable?: boolean;
    /**
     * The request was never sent (it could not be built, or its address is not allowed): a fault
     * of this message or configuration that says nothing about the destination's health.
     */
    readonly notSent?: boolean;
  }
  | { readonly state: "unknown"; readonly reason: string; readonly status?: number };

/**
 * The result for a destination that answered it no longer exists: one wording for every sink, so
 * the `status_reason` tells the operator what the relay did about it.
 */
export function goneResult(reason: string, status: number): SendResult {
  return {
    state: "permanent_failure",
    reason: `${reason}: destination disabled until it is edited or resumed`,
    status,
    disable: true,
  };
}

/** What a destination would receive, worked out without any network call (`main.ts transform`). */
export interface Preview {
  /** The request body it would get; absent when the message would fail or be skipped. */
  readonly body?: unknown;
  /** Headers beyond `content-type` that carry meaning (a signature is described, not computed). */
  readonly headers?: Readonly<Record<string, string>>;
  /** Why there is no body, or what is decided only at delivery time. */
  readonly note?: string;
}

/** Whether a destination's credentials work (`check-config --online`). */
export interface ProbeResult {
  /** null: nothing could be checked (a dry run, or no way to ask without delivering). */
  readonly ok: boolean | null;
  readonly detail: string;
}

/** A destination type's sender. */
export interface Sink {
  /**
   * Whether the destination tolerates the same message twice (it dedupes by id). When false, an
   * attempt whose answer was lost is recorded as `unknown` instead of being repeated.
   */
  readonly idempotent: boolean;
  /** Whether fan-out copies of one event (one per recipient) collapse into one delivery. */
  readonly dedupeFanout: boolean;
  /** Whether it may carry secrets (one-time passcodes): only a DM to the recipient may. */
  readonly allowsSecrets: boolean;
  send(ctx: SendContext): Promise<SendResult>;
  /**
   * The transform alone, offline (`transform`, `POST /api/v1/preview`). Every registered type has
   * one ({@linkcode PreviewSink}); optional here for test doubles.
   */
  preview?(ctx: SendContext): Preview;
  /** Checks the credentials without delivering anything. Optional, like `preview`. */
  probe?(): Promise<ProbeResult>;
}

/**
 * A sink that shows offline what it would send: what every destination type's `create` returns, so
 * a type without a preview does not compile.
 */
export type PreviewSink = Sink & { preview(ctx: SendContext): Preview };

/** A destination names a type this build has no sink for (the admin API answers 400). */
export class UnsupportedTypeError extends Error {
  override name = "UnsupportedTypeError";
}
