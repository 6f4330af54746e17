/**
 * The `RELAY_CONFIG` file: destinations beyond what environment variables can say (several Slack
 * channels, webhooks with headers, per-destination filters). JSON, validated with zod; an error
 * names the path of the bad field (`destinations[2].configuration.url`), never a secret's value.
 *
 * @module
 */
import { z } from "zod";
import { type EventFilter, parseEventFilter } from "./coder.ts";
import {
  DESTINATION_TYPES,
  type DestinationTypeName,
  TYPE_NAMES,
} from "./destinations/registry.ts";
import { type DeliverySettings, DeliverySettingsSchema } from "./destinations/delivery.ts";
import { issueMessage } from "./issues.ts";

const events = z.union([z.string(), z.array(z.string())], {
  error: 'expected a list of notification names, or "*"',
}).default(["*"]).transform((list): EventFilter => parseEventFilter(list));

const common = {
  /** Keys the delivery records: keep it stable. */
  id: z.string().regex(
    /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/,
    "expected 1-63 letters, digits, '_', '.' or '-'",
  ),
  events,
  enabled: z.boolean().default(true),
  description: z.string().optional(),
  /** Its own concurrency, rate limit and retry schedule. */
  delivery: DeliverySettingsSchema.optional(),
};

/** One variant of the union per registered type: its `type` literal and its configuration schema. */
const variants = DESTINATION_TYPES.map((t) =>
  z.strictObject({ ...common, type: z.literal(t.type), configuration: t.schema })
);

const DestinationSchema = z.discriminatedUnion(
  "type",
  variants as [(typeof variants)[number], ...(typeof variants)[number][]],
  { error: `expected type ${TYPE_NAMES.map((t) => `"${t}"`).join(", ")}` },
);

/** One destination as the file defines it (no sink yet: `destinations/create.ts` builds those). */
export interface DestinationSpec {
  readonly id: string;
  readonly type: DestinationTypeName;
  readonly events: EventFilter;
  readonly enabled: boolean;
  readonly description?: string;
  readonly delivery?: DeliverySettings;
  /** Validated by the type's schema; the sink factory parses it again. */
  readonly configuration: unknown;
}

const FileSchema = z.strictObject({ destinations: z.array(DestinationSchema) }).superRefine(
  (file, ctx) => {
    const seen = new Set<string>();
    file.destinations.forEach((d, i) => {
      if (seen.has(d.id)) {
        ctx.addIssue({
          code: "custom",
          path: ["destinations", i, "id"],
          message: `duplicate id "${d.id}"`,
        });
      }
      seen.add(d.id);
    });
  },
);

/** `destinations[2].configuration.url` */
function pathOf(path: readonly PropertyKey[]): string {
  return path.map((p) => typeof p === "number" ? `[${p}]` : `.${String(p)}`).join("").replace(
    /^\./,
    "",
  ) || "(root)";
}

/**
 * Parses the file's text. `reserved` ids (those the environment already defines) may not be reused.
 *
 * @throws {Error} one line per problem, each starting with the field's path.
 */
export function parseConfigFile(text: string, reserved: ReadonlySet<string>): DestinationSpec[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`not valid JSON: ${(err as Error).message}`);
  }
  const parsed = FileSchema.safeParse(json);
  if (!parsed.success) {
    throw new Error(
      parsed.error.issues.map((i) => `${pathOf(i.path)}: ${issueMessage(i)}`).join("\n  "),
    );
  }
  const clash = parsed.data.destinations.findIndex((d) => reserved.has(d.id));
  if (clash >= 0) {
    const id = parsed.data.destinations[clash].id;
    throw new Error(
      `destinations[${clash}].id: "${id}" is already defined by environment variables`,
    );
  }
  return parsed.data.destinations;
}
