/**
 * Every destination type this build can deliver to, in one list. Everything that differs by type
 * is derived from it: the config file's discriminated union (`config_file.ts`), the admin API's
 * `type` enum and per-type validation, secret redaction ({@linkcode SECRET_FIELDS}), the sink
 * factory ({@linkcode createSink}) and the destinations environment variables define. To add a
 * type, write its module (see `type.ts`) and add it to {@linkcode DESTINATION_TYPES}.
 *
 * @module
 */
import { platformx } from "../sinks/platformx.ts";
import { type PreviewSink, UnsupportedTypeError } from "../sinks/sink.ts";
import { slack } from "../sinks/slack.ts";
import { slackWebhook } from "../sinks/slack_webhook.ts";
import { teams } from "../sinks/teams.ts";
import { webhook } from "../sinks/webhook.ts";
import type { DestinationType, SinkDeps } from "../sinks/type.ts";

/** The registry. Order is the order of environment destinations and of error messages. */
export const DESTINATION_TYPES = [platformx, slack, slackWebhook, webhook, teams] as const;

/** A destination type's name: a union of literals, so a `Record` over it must name every type. */
export type DestinationTypeName = (typeof DESTINATION_TYPES)[number]["type"];

/** Every type name, for validation messages and enums. */
export const TYPE_NAMES = DESTINATION_TYPES.map((t) => t.type) as [
  DestinationTypeName,
  ...DestinationTypeName[],
];

type SettingsOf<T> = T extends DestinationType<string, infer _C, infer S> ? S : never;
type Intersection<U> = (U extends unknown ? (u: U) => void : never) extends (i: infer I) => void ? I
  : never;

/**
 * Everything the registered types read from the relay's configuration. `Config` must be
 * assignable to it (`destinations/create.ts` passes one), so a type reading a setting the
 * configuration lacks does not compile.
 */
export type RegistrySettings = Intersection<SettingsOf<(typeof DESTINATION_TYPES)[number]>>;

/**
 * A type's descriptor with its configuration erased, for lookups by name. `any`, not `unknown`: a
 * zod schema is invariant in its output, and the configuration is whatever that type's own schema
 * parsed (`createSink` parses with the same descriptor's schema before calling its `create`).
 */
// deno-lint-ignore no-explicit-any
export type AnyDestinationType = DestinationType<DestinationTypeName, any, RegistrySettings>;

/** The registry with each type's configuration and settings erased: what loops over it use. */
export const DESCRIPTORS: readonly AnyDestinationType[] = DESTINATION_TYPES;

const BY_NAME = new Map(DESCRIPTORS.map((t) => [t.type as string, t]));

/** The descriptor of `type`, or undefined for a type this build does not know. */
export function destinationTypeOf(type: string): AnyDestinationType | undefined {
  return BY_NAME.get(type);
}

/**
 * Configuration keys that are secrets, per type: stored, used, never returned. A Slack
 * incoming-webhook URL is its own credential; webhook `headers` usually carry an `Authorization`.
 */
export const SECRET_FIELDS = Object.fromEntries(
  DESTINATION_TYPES.map((t) => [t.type, t.secretFields]),
) as Readonly<Record<DestinationTypeName, readonly string[]>>;

/**
 * The one place a destination type and its configuration become a sink, for the config file and
 * the admin API alike: the type's schema parses the configuration, its `create` builds the sink.
 *
 * @throws {UnsupportedTypeError} for an unknown type.
 */
export function createSink(
  type: string,
  configuration: unknown,
  deps: SinkDeps<RegistrySettings>,
): PreviewSink {
  const descriptor = destinationTypeOf(type);
  if (!descriptor) {
    throw new UnsupportedTypeError(
      `type "${type}" is not available (available: ${TYPE_NAMES.join(", ")})`,
    );
  }
  return descriptor.create(descriptor.schema.parse(configuration), deps);
}
