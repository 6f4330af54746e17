/**
 * `POST /api/v1/preview`: what destinations would receive for a Coder body, offline (the same
 * {@link previewDestination} as `transform`). Nothing is stored or sent, so trying a template or a
 * new destination type costs nothing and reaches no network.
 *
 * @module
 */
import { z } from "zod";
import type { Destination } from "../destinations/destination.ts";
import { type DestinationPreview, previewDestination } from "../destinations/preview.ts";
import type { DestinationSet } from "../destinations/set.ts";
import { parseEnvelope } from "../http/receiver.ts";
import { parseSubscription } from "./subscriptions.ts";

/**
 * The body: a Coder message, and which destination: an existing one by id, a type with its
 * configuration (validated as for a new subscription), or neither for every destination.
 */
export const PreviewSchema = z.strictObject({
  message: z.record(z.string(), z.unknown(), { error: "expected a Coder webhook body (object)" }),
  destination: z.string().min(1).optional(),
  type: z.string().min(1).optional(),
  configuration: z.record(z.string(), z.unknown()).optional(),
}).refine((b) => !(b.destination && b.type), {
  path: ["type"],
  message: "give destination or type, not both",
});

/** What a preview needs from the admin API. */
export interface PreviewDeps {
  /** Its `build` makes a sink for a type and configuration, through the registry. */
  readonly destinations: DestinationSet;
  readonly destinationById: (id: string) => Promise<Destination>;
  readonly now: () => number;
}

/**
 * The previews for a validated body.
 *
 * @throws {HttpError} 400 for a bad message or configuration, 404 for an unknown destination.
 */
export async function preview(
  body: z.output<typeof PreviewSchema>,
  deps: PreviewDeps,
): Promise<{ msg_id: string; destinations: DestinationPreview[] }> {
  const envelope = parseEnvelope(new TextEncoder().encode(JSON.stringify(body.message)));
  const at = deps.now();
  let previews: DestinationPreview[];
  if (body.type !== undefined) {
    const fields = parseSubscription({
      name: "preview",
      event_types: ["*"],
      type: body.type,
      configuration: body.configuration ?? {},
    });
    const sink = deps.destinations.build({
      id: "preview",
      ...fields,
      createdAt: at,
      updatedAt: at,
    });
    const d: Destination = {
      id: "preview",
      type: fields.type,
      events: { all: true },
      enabled: true,
      source: "api",
      sink,
    };
    previews = [previewDestination(d, envelope, at, true)];
  } else if (body.destination !== undefined) {
    previews = [
      previewDestination(await deps.destinationById(body.destination), envelope, at, true),
    ];
  } else {
    previews = (await deps.destinations.list()).map((d) => previewDestination(d, envelope, at));
  }
  return { msg_id: envelope.msg_id, destinations: previews };
}
