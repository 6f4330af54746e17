/**
 * Coder's notification webhook: the envelope schema, how names compare, and who an event is about.
 * See docs/coder.md. Unknown fields are accepted and kept: the raw body is what gets stored.
 *
 * @module
 */
import { createHash } from "node:crypto";
import { z } from "zod";

const version = z.string().regex(/^1\.\d+$/, 'expected a 1.x version such as "1.1"');
const stringMap = z.record(z.string(), z.string());
/** Identifiers become store keys and SQL text, where a NUL character cannot go. */
const noNul = (schema: z.ZodString) =>
  schema.refine((s) => !s.includes("\0"), "must not contain NUL characters");

/** `payload` as Coder sends it, `_version` 1.0 to 1.2 (and later 1.x: unknown fields pass through). */
export const PayloadSchema = z.looseObject({
  _version: version,
  notification_name: noNul(z.string().trim().min(1, "must not be empty")),
  notification_template_id: z.string().optional(),
  user_id: z.string().optional(),
  user_email: z.string().optional(),
  user_name: z.string().optional(),
  user_username: z.string().optional(),
  actions: z.array(z.looseObject({ label: z.string(), url: z.string() })).nullish(),
  labels: stringMap.nullish(),
  data: z.record(z.string(), z.unknown()).nullish(),
  targets: z.array(z.string()).nullish(),
});

/**
 * A `msg_id` the relay accepts. It is sent on as a header (`webhook-id`) and written to logs, so it
 * must be a header-safe token: Coder sends UUIDs; anything with control characters, spaces or
 * quotes is refused at the door instead of failing every delivery later.
 */
export const MSG_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/;

/** The webhook body: one message for one recipient. */
export const EnvelopeSchema = z.looseObject({
  _version: version,
  msg_id: z.string().regex(
    MSG_ID_PATTERN,
    "must be 1-128 characters from A-Z a-z 0-9 . _ : - (Coder sends a UUID)",
  ),
  payload: PayloadSchema,
  title: z.string(),
  title_markdown: z.string().optional(),
  body: z.string(),
  body_markdown: z.string().optional(),
});

/** A validated Coder message. */
export type Envelope = z.infer<typeof EnvelopeSchema>;
/** The `payload` of a validated Coder message. */
export type Payload = z.infer<typeof PayloadSchema>;

/**
 * Names are display strings whose case and spacing drift between Coder versions ("User account
 * created" vs "User Account Created"), so they compare lower-cased with whitespace collapsed.
 */
export function normalizeName(name: string): string {
  return name.trim().replace(/\s+/g, " ").toLowerCase();
}

/** Which notifications a destination wants: every one (`*`) or a set of normalized names. */
export type EventFilter = { readonly all: true } | {
  readonly all: false;
  readonly names: ReadonlySet<string>;
};

/** Parses a comma list such as `EVENTS_TRACKED`; `*` anywhere means every notification. */
export function parseEventFilter(list: string | readonly string[]): EventFilter {
  const items = (typeof list === "string" ? list.split(",") : list).map(normalizeName)
    .filter((s) => s !== "");
  if (items.includes("*")) return { all: true };
  return { all: false, names: new Set(items) };
}

/** Whether a notification name passes a filter. */
export function matchesFilter(filter: EventFilter, name: string): boolean {
  return filter.all || filter.names.has(normalizeName(name));
}

/** The filter written back as a list, for logs and the admin API. */
export function describeFilter(filter: EventFilter): string[] {
  return filter.all ? ["*"] : [...filter.names];
}

/** One-Time Passcode messages carry a secret: they may only ever go to their own recipient. */
export function isSecretMessage(payload: Payload): boolean {
  return normalizeName(payload.notification_name) === "one-time passcode" ||
    payload.labels?.one_time_passcode !== undefined;
}

/** Who an event is about. At least one field is set when the event names its subject at all. */
export interface Subject {
  readonly id?: string;
  readonly email?: string;
  readonly username?: string;
}

/** Events Coder sends to the person they are about: there the recipient is the subject. */
const SELF_ADDRESSED = new Set([
  "workspace deleted",
  "workspace autobuild failed",
  "workspace marked as dormant",
  "workspace marked for deletion",
  "workspace updated automatically",
  "workspace is out of memory",
  "workspace is out of disk",
  "your account has been suspended",
  "your account has been activated",
  "task completed",
  "task failed",
  "task idle",
  "task working",
  "test notification",
  "custom notification",
  "one-time passcode",
]);

/**
 * Labels that hold the subject's username. (`*_account_user_name` are display names, such as
 * "William Tables": useless for a lookup.)
 */
const SUBJECT_USERNAME_LABELS = [
  "workspace_owner_username",
  "created_account_name",
  "suspended_account_name",
  "activated_account_name",
  "deleted_account_name",
] as const;

type Person = { id?: unknown; email?: unknown; name?: unknown; username?: unknown };

function person(value: unknown): Person | undefined {
  return value && typeof value === "object" ? value as Person : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}

/**
 * The subject of an event, not its recipient (docs/coder.md): `data.owner` for workspace events,
 * `data.user` for account events, the recipient for events Coder addresses to the subject themself,
 * and otherwise a username label (to be looked up).
 */
export function subjectOf(payload: Payload): Subject | undefined {
  const data = payload.data ?? undefined;
  const who = person(data?.owner) ?? person(data?.user);
  if (who) {
    const s = { id: str(who.id), email: str(who.email), username: str(who.name ?? who.username) };
    if (s.id || s.email || s.username) return s;
  }
  if (SELF_ADDRESSED.has(normalizeName(payload.notification_name))) {
    const s = {
      id: str(payload.user_id),
      email: str(payload.user_email),
      username: str(payload.user_username),
    };
    if (s.id || s.email || s.username) return s;
  }
  const labels = payload.labels ?? {};
  for (const key of SUBJECT_USERNAME_LABELS) {
    const username = str(labels[key]);
    if (username) return { username };
  }
  return undefined;
}

/**
 * Identifies one event across the messages Coder fans it out into: those differ only in `msg_id` and
 * the recipient (`user_*`), so name + template + subject + labels + data ids identify the event.
 * Hashed, so that the key stays short whatever the labels hold; with node:crypto's synchronous
 * SHA-256 (the same digest as before), since `crypto.subtle`'s round trip to a worker thread cost
 * the accept path a fifth of its CPU.
 */
export function eventKey(payload: Payload): string {
  const labels = payload.labels ?? {};
  const data = payload.data ?? {};
  const ids: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) {
    // parameters may hold secrets and never identify the event; ids and names do.
    if (k === "parameters") continue;
    const p = person(v);
    ids[k] = p ? [p.id, p.name, p.email] : v;
  }
  const subject = SELF_ADDRESSED.has(normalizeName(payload.notification_name))
    ? payload.user_id ?? payload.user_email
    : undefined;
  const canonical = JSON.stringify([
    normalizeName(payload.notification_name),
    payload.notification_template_id ?? "",
    subject ?? "",
    Object.keys(labels).sort().map((k) => [k, labels[k]]),
    Object.keys(ids).sort().map((k) => [k, ids[k]]),
  ]);
  return createHash("sha256").update(canonical).digest("hex").slice(0, 32);
}

/**
 * Notification names Coder ships (v2.15–v2.2x templates): subscriptions naming anything else get a
 * warning, not an error, since custom templates and newer Coder versions add names.
 */
export const KNOWN_NOTIFICATIONS: readonly string[] = [
  "Workspace Created",
  "Workspace Manually Updated",
  "Workspace Updated Automatically",
  "Workspace Deleted",
  "Workspace Autobuild Failed",
  "Workspace Manual Build Failed",
  "Workspace Marked as Dormant",
  "Workspace Marked for Deletion",
  "Workspace Is Out Of Memory",
  "Workspace Is Out Of Disk",
  "Report: Workspace Builds Failed",
  "User Account Created",
  "User Account Deleted",
  "User Account Suspended",
  "User Account Activated",
  "Your Account Has Been Suspended",
  "Your Account Has Been Activated",
  "Template Deleted",
  "Template Deprecated",
  "Test Notification",
  "Custom Notification",
  "One-Time Passcode",
  "Task Completed",
  "Task Failed",
  "Task Idle",
  "Task Working",
];
