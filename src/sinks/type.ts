/**
 * The shape of a destination type. Each type (PlatformX, Slack, a signed webhook, …) is one module
 * under `src/sinks/` exporting its sink and one {@linkcode DestinationType}; `destinations/registry.ts`
 * lists them, and everything that differs by type is derived from that list: the `RELAY_CONFIG`
 * file schema, the admin API's validation, secret redaction, the sink factory and the destinations
 * environment variables define. Adding a type is one module plus one registry line.
 *
 * A descriptor, field by field:
 * - `type`: the name used in config files, the admin API and delivery records (`"teams"`).
 * - `schema`: the zod schema of its `configuration` object; strict, so a typo is an error.
 * - `secretFields`: configuration keys never returned by the API (redacted) nor logged.
 * - `create(configuration, deps)`: the sink, from a configuration the schema parsed. `deps` holds
 *   the shared I/O (fetch, clock, timeout, Coder user lookup) and `settings`, the slice of the
 *   relay's configuration the type reads (e.g. a default API URL).
 * - `env(settings)` (optional): the destination environment variables define, or undefined when
 *   they define none. Its id is the type name. It may return what the schema would refuse (the
 *   dry-run PlatformX has no key); the variables were validated by `config.ts`.
 *
 * Offline previews (`transform`, `POST /api/v1/preview`) and online checks (`check-config
 * --online`) are methods of the sink a descriptor creates. `create` must return a
 * {@linkcode PreviewSink}: every type shows offline what it would send; `Sink.probe` is optional.
 *
 * @module
 */
import type { z } from "zod";
import type { EventFilter } from "../coder.ts";
import type { IdentityResolver } from "../identity.ts";
import type { Fetch } from "./http.ts";
import type { PreviewSink } from "./sink.ts";

/** What creating a sink may use besides the destination's own configuration. */
export interface SinkDeps<Settings = unknown> {
  readonly fetch: Fetch;
  readonly now: () => number;
  /** Per-request timeout (`RELAY_SEND_TIMEOUT_MS`). */
  readonly timeoutMs: number;
  /** Coder's user lookup, shared by every destination that needs an email. */
  readonly resolver?: IdentityResolver;
  /** The slice of the relay's configuration this type reads. */
  readonly settings: Settings;
}

/** A destination the environment variables define. */
export interface EnvDestination<Configuration> {
  readonly events: EventFilter;
  /** A human note for logs and `check-config`; never a secret. */
  readonly description: string;
  readonly configuration: Configuration;
}

/** The configuration keys of a type, as `secretFields` may name them. */
type FieldOf<Configuration> = unknown extends Configuration ? string
  : Extract<keyof Configuration, string>;

/** One destination type; see the module documentation for each field. */
export interface DestinationType<
  Type extends string = string,
  Configuration = unknown,
  Settings = unknown,
> {
  readonly type: Type;
  readonly schema: z.ZodType<Configuration>;
  readonly secretFields: readonly FieldOf<Configuration>[];
  create(configuration: Configuration, deps: SinkDeps<Settings>): PreviewSink;
  env?(settings: Settings): EnvDestination<Configuration> | undefined;
}

/** Identity, for inference: `export const teams = destinationType({ type: "teams", … })`. */
export function destinationType<Type extends string, Configuration, Settings>(
  descriptor: DestinationType<Type, Configuration, Settings>,
): DestinationType<Type, Configuration, Settings> {
  return descriptor;
}
