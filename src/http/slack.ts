/**
 * Slack-facing HTTP: the contract of Coder's sample Slack bot on `/v1/webhook` (so the relay drops in
 * where the bot ran, same endpoint, same 400 messages, 204), and the interactivity Request URL that
 * Slack calls when someone clicks a link button (verified, then acknowledged at once).
 *
 * @module
 */
import { logger } from "../log.ts";
import { verifySlackSignature } from "../signing.ts";
import { readBody } from "./body.ts";
import { HttpError } from "./errors.ts";

/**
 * The checks Coder's Slack bot makes before anything else, with its messages: Coder's admins know
 * them from that bot's logs. Runs on the parsed JSON before full envelope validation.
 */
export function checkSlackBotContract(json: Record<string, unknown>): void {
  const missing = (message: string) => new HttpError(400, "invalid_body", message);
  if (!json.title || !json.body) throw missing('Error: missing fields: "title", or "body"');
  const payload = json.payload as Record<string, unknown> | undefined;
  if (!payload) throw missing('Error: missing "payload" field');
  if (!payload.user_email || !payload.actions) {
    throw missing('Error: missing fields: "user_email", "actions"');
  }
}

/** What the interactions endpoint needs. */
export interface InteractionDeps {
  readonly signingSecret: string;
  readonly now: () => number;
}

const log = logger("slack", "interactions");
/** Interaction payloads are small; Slack's own are a few KB. */
const MAX_INTERACTION_BYTES = 64 * 1024;

/**
 * Acknowledges a Slack interaction (a click on a link button) after checking its signature: 200 at
 * once, as Slack wants within 3 s; 401 for a missing, stale or wrong signature.
 */
export async function acknowledgeInteraction(deps: InteractionDeps, req: Request) {
  const body = await readBody(req, MAX_INTERACTION_BYTES);
  const verdict = await verifySlackSignature(
    deps.signingSecret,
    req.headers.get("x-slack-request-timestamp"),
    req.headers.get("x-slack-signature"),
    body,
    deps.now(),
  );
  if (verdict !== "ok") {
    log.warn("rejected a Slack interaction: signature {verdict}", { verdict });
    throw new HttpError(
      401,
      "bad_signature",
      {
        missing: "X-Slack-Signature and X-Slack-Request-Timestamp are required",
        stale: "X-Slack-Request-Timestamp is more than 5 minutes away from now",
        mismatch: "X-Slack-Signature does not match the body",
      }[verdict],
    );
  }
  return new Response(null, { status: 200 });
}
