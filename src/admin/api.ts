/**
 * The admin API under `/api/v1/`: subscriptions (CloudTruth's webhook shape), message inspection
 * and replay, pause/resume, test sends. Operators get full control without touching the store by
 * hand. `Authorization: Bearer $RELAY_ADMIN_TOKEN` only: a token in a query string ends up in
 * proxy logs.
 *
 * @module
 */
import { escapeControl } from "../text/control.ts";
import { Hono } from "hono";
import { z } from "zod";
import { KNOWN_NOTIFICATIONS, matchesFilter } from "../coder.ts";
import type { Destination } from "../destinations/destination.ts";
import { readBody } from "../http/body.ts";
import { HttpError, invalidInput } from "../http/errors.ts";
import { issuesOf } from "../issues.ts";
import { logger } from "../log.ts";
import type { DestinationSet } from "../destinations/set.ts";
import type {
  MessageLog,
  Outbox,
  Settings,
  SubscriptionRecord,
  Subscriptions,
} from "../store/store.ts";
import type { StatsStore } from "../store/stats.ts";
import {
  changedFields,
  configuredDestinationJson,
  parseSubscription,
  patchSubscription,
  type SubscriptionFields,
  subscriptionJson,
  unknownEventWarnings,
} from "./subscriptions.ts";
import { preview, PreviewSchema } from "./preview.ts";
import { replayFailed } from "./replay.ts";
import { sendTest } from "./test_send.ts";
import type { AddressAllowlist } from "../net/address_guard.ts";
import { destinationUrlIssues } from "../net/destination_urls.ts";
import {
  MessageQuerySchema,
  PurgeSchema,
  RetryFailedSchema,
  TargetSchema,
  TestSendSchema,
} from "./schemas.ts";
import { createStatsRoutes } from "./stats.ts";
import { deliveryJson, messageJson, pauseJson } from "./views.ts";

/** What the admin API needs. */
export interface AdminDeps {
  /** Everything but the delivery loop's leases: inspection, replay, settings, subscriptions. */
  readonly store:
    & MessageLog
    & Settings
    & Subscriptions
    & StatsStore
    & Pick<Outbox, "purge" | "getBody">;
  readonly destinations: DestinationSet;
  /** Private addresses subscriptions may target (`RELAY_ALLOW_PRIVATE_DESTINATIONS`). */
  readonly allowPrivate: AddressAllowlist;
  /** The pause switches changed: the worker re-reads them. */
  readonly onPauseChanged: () => void;
  /** Deliveries were re-queued: the worker looks at once. */
  readonly onRequeued: () => void;
  readonly now: () => number;
}

const ADMIN_BODY_LIMIT = 64 * 1024;
/** Every change an operator makes is logged at INFO (ids and names only, never configuration). */
const log = logger("admin");

/** Reads an optional JSON object body under the admin size limit and validates it. */
async function readJson<T extends z.ZodType>(req: Request, schema: T): Promise<z.output<T>> {
  const bytes = await readBody(req, ADMIN_BODY_LIMIT);
  let json: unknown = {};
  if (bytes.byteLength > 0) {
    try {
      json = JSON.parse(new TextDecoder().decode(bytes));
    } catch (err) {
      throw new HttpError(
        400,
        "invalid_body",
        `body is not valid JSON: ${escapeControl((err as Error).message)}`,
      );
    }
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw invalidInput("invalid_body", issuesOf(parsed.error));
  return parsed.data;
}

function query<T extends z.ZodType>(url: string, schema: T): z.output<T> {
  const params = Object.fromEntries(new URL(url).searchParams);
  const parsed = schema.safeParse(params);
  if (!parsed.success) throw invalidInput("invalid_query", issuesOf(parsed.error));
  return parsed.data;
}

/**
 * Builds the `/api/v1` router; mount it under that prefix, behind `adminAuth`, in an app that is
 * not `strict` (so `/webhooks` and `/webhooks/` are one route).
 */
export function createAdminRoutes(deps: AdminDeps): Hono {
  const app = new Hono({ strict: false });

  async function destinationById(id: string): Promise<Destination> {
    const all = await deps.destinations.list();
    const found = all.find((d) => d.id === id);
    if (!found) {
      const known = all.map((d) => d.id).join(", ");
      throw new HttpError(404, "not_found", `no destination "${id}" (known: ${known})`);
    }
    return found;
  }

  async function subscriptionById(id: string): Promise<SubscriptionRecord> {
    const sub = await deps.store.getSubscription(id);
    if (sub) return sub;
    if (deps.destinations.configured.some((d) => d.id === id)) {
      throw new HttpError(
        409,
        "read_only",
        `destination "${id}" is defined by the environment; change it there`,
      );
    }
    throw new HttpError(404, "not_found", `no webhook subscription "${id}"`);
  }

  async function save(fields: SubscriptionFields, current?: SubscriptionRecord) {
    const now = deps.now();
    const sub: SubscriptionRecord = {
      id: current?.id ?? crypto.randomUUID(),
      ...fields,
      createdAt: current?.createdAt ?? now,
      // Strictly increasing: the destination set rebuilds a sink when this changes.
      updatedAt: Math.max(now, (current?.updatedAt ?? 0) + 1),
    };
    // Refuses a type or configuration this build cannot deliver to, before anything is stored.
    deps.destinations.build(sub);
    const blocked = await destinationUrlIssues(sub.configuration, deps.allowPrivate);
    if (blocked.length) throw invalidInput("destination_not_allowed", blocked);
    await deps.store.putSubscription(sub);
    await deps.destinations.reload();
    // An edit re-enables a destination its sink had reported gone: its held deliveries go out.
    if ((await deps.store.getPause()).disabled?.[sub.id]) {
      await deps.store.setDisabled(sub.id, null, now);
      deps.onPauseChanged();
    }
    log.info("subscription {id} ({type}, {name}) {action}", {
      id: sub.id,
      type: sub.type,
      name: sub.name,
      action: current
        ? `updated: ${changedFields(current, sub).join(", ") || "nothing changed"}`
        : "created",
    });
    const warnings = unknownEventWarnings(sub.eventTypes);
    return { ...subscriptionJson(sub), ...(warnings.length ? { warnings } : {}) };
  }

  // What a destination would receive: offline, nothing stored, nothing sent.
  app.post("/preview", async (c) => {
    const body = await readJson(c.req.raw, PreviewSchema);
    return c.json(await preview(body, { ...deps, destinationById }));
  });

  // Subscriptions, in CloudTruth's shape (DRF-style list with `results`).
  app.get("/webhooks", async (c) => {
    const subs = await deps.store.listSubscriptions();
    const results = [
      ...deps.destinations.configured.map(configuredDestinationJson),
      ...subs.map(subscriptionJson),
    ];
    return c.json({ count: results.length, next: null, previous: null, results });
  });
  app.post(
    "/webhooks",
    async (c) => c.json(await save(parseSubscription(await readJson(c.req.raw, z.unknown()))), 201),
  );
  app.get("/webhooks/:id", async (c) => {
    const id = c.req.param("id");
    const sub = await deps.store.getSubscription(id);
    if (sub) return c.json(subscriptionJson(sub));
    const configured = deps.destinations.configured.find((d) => d.id === id);
    if (configured) return c.json(configuredDestinationJson(configured));
    throw new HttpError(404, "not_found", `no webhook subscription "${id}"`);
  });
  app.put("/webhooks/:id", async (c) => {
    const current = await subscriptionById(c.req.param("id"));
    const body = await readJson(c.req.raw, z.unknown());
    return c.json(await save(parseSubscription(body, current), current));
  });
  app.patch("/webhooks/:id", async (c) => {
    const current = await subscriptionById(c.req.param("id"));
    const body = await readJson(c.req.raw, z.unknown());
    return c.json(await save(patchSubscription(body, current), current));
  });
  app.delete("/webhooks/:id", async (c) => {
    const sub = await subscriptionById(c.req.param("id"));
    await deps.store.deleteSubscription(sub.id);
    await deps.destinations.reload();
    log.info("subscription {id} ({type}, {name}) deleted", {
      id: sub.id,
      type: sub.type,
      name: sub.name,
    });
    return c.body(null, 204);
  });
  app.post("/webhooks/:id/test", async (c) => {
    const dest = await destinationById(c.req.param("id"));
    const { email } = await readJson(
      c.req.raw,
      TestSendSchema,
    );
    const outcome = await sendTest(dest, deps.now, email);
    log.info("test notification to {destination}: {state}", {
      destination: dest.id,
      state: outcome.state,
    });
    return c.json({ ok: outcome.state === "sent", ...outcome });
  });

  // Messages: inspect, replay, purge.
  app.get("/messages", async (c) => {
    const q = query(c.req.url, MessageQuerySchema);
    const page = await deps.store.listMessages(
      { state: q.state, destination: q.destination, name: q.event, since: q.since, until: q.until },
      { cursor: q.cursor, limit: q.limit },
    );
    return c.json({
      messages: page.items.map((m) => messageJson(m, false)),
      next_cursor: page.cursor ?? null,
    });
  });
  app.post("/messages/retry", async (c) => {
    const { destination } = await readJson(
      c.req.raw,
      RetryFailedSchema,
    );
    const { requeued, skipped } = await replayFailed(
      deps.store,
      await destinationById(destination),
      deps.now(),
    );
    if (requeued.length > 0) deps.onRequeued();
    log.info(
      "re-queued {requeued} failed deliveries to {destination}; {skipped} left failed: they cannot succeed as configured",
      { requeued: requeued.length, destination, skipped: skipped.length },
    );
    return c.json({ destination, requeued: requeued.length, msg_ids: requeued, skipped });
  });
  app.post("/messages/purge", async (c) => {
    const { older_than_days: days } = await readJson(
      c.req.raw,
      PurgeSchema,
    );
    const purged = await deps.store.purge(deps.now() - days * 86_400_000);
    log.info("purged {purged} messages older than {days} days", { purged, days });
    return c.json({ purged });
  });
  app.get("/messages/:id", async (c) => {
    const found = await deps.store.getMessage(c.req.param("id"));
    if (!found) throw new HttpError(404, "not_found", `no message "${c.req.param("id")}"`);
    return c.json(messageJson(found, true));
  });
  app.post("/messages/:id/retry", async (c) => {
    const msgId = c.req.param("id");
    const { destination } = await readJson(c.req.raw, TargetSchema);
    const found = await deps.store.getMessage(msgId);
    if (!found) throw new HttpError(404, "not_found", `no message "${msgId}"`);
    if (destination && !found.deliveries.some((d) => d.destination === destination)) {
      throw new HttpError(
        404,
        "not_found",
        `message "${msgId}" has no delivery to "${destination}"`,
      );
    }
    const requeued = await deps.store.retry(msgId, destination, deps.now());
    if (requeued.length === 0) {
      throw new HttpError(
        409,
        "nothing_to_retry",
        "no delivery of this message is failed (permanent_failure, unknown, temporary_failure)",
        {},
        {
          deliveries: found.deliveries.map((d) => ({ destination: d.destination, state: d.state })),
        },
      );
    }
    deps.onRequeued();
    log.info("re-queued {msgId} for {destinations}", {
      msgId,
      destinations: requeued.map((d) => d.destination).join(","),
    });
    return c.json({ msg_id: msgId, requeued: requeued.map((d) => deliveryJson(d, false)) });
  });

  app.get("/event-types", async (c) => {
    const destinations = await deps.destinations.list();
    return c.json({
      event_types: KNOWN_NOTIFICATIONS.map((name) => ({
        name,
        destinations: destinations.filter((d) => matchesFilter(d.events, name)).map((d) => d.id),
      })),
      next_cursor: null,
    });
  });

  app.route("/", createStatsRoutes(deps));

  // Pause and resume: accepting continues; deliveries wait in the store.
  app.get("/pause", async (c) => c.json(pauseJson(await deps.store.getPause())));
  for (const [path, paused] of [["/pause", true], ["/resume", false]] as const) {
    app.post(path, async (c) => {
      const { destination } = await readJson(c.req.raw, TargetSchema);
      if (destination) await destinationById(destination);
      const state = await deps.store.setPause(destination, paused, deps.now());
      deps.onPauseChanged();
      log.info("delivery {action} for {target}", {
        action: paused ? "paused" : "resumed",
        target: destination ?? "every destination",
      });
      return c.json(pauseJson(state));
    });
  }
  return app;
}
