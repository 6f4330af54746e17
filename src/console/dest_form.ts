/**
 * The create/edit destination form, derived from each type's configuration schema (so a new type
 * gets its fields without console changes), and its translation to and from the admin API's body
 * and field-level validation issues.
 *
 * @module
 */
import type { z } from "zod";
import {
  type DestinationTypeName,
  destinationTypeOf,
  SECRET_FIELDS,
  TYPE_NAMES,
} from "../destinations/registry.ts";
import { Html, html } from "./html.ts";
import { BASE, csrfField, type PageContext } from "./layout.ts";

type Kind = { kind: "text" } | { kind: "long" } | { kind: "checkbox" } | { kind: "map" } | {
  kind: "select";
  options: string[];
};

// deno-lint-ignore no-explicit-any
type Def = any;

/** A schema's definition under its wrappers (optional, default, a transform's input). */
function defOf(schema: z.ZodType): Def {
  let def = (schema as Def)._zod.def;
  for (let i = 0; i < 10; i++) {
    if (["optional", "default", "nullable"].includes(def.type)) def = def.innerType._zod.def;
    else if (def.type === "pipe") def = def.in._zod.def;
    else break;
  }
  return def;
}

/** How a configuration field is edited, from its schema. */
function kindOf(schema: z.ZodType): Kind {
  const def = defOf(schema);
  if (def.type === "boolean") return { kind: "checkbox" };
  if (def.type === "record") return { kind: "map" };
  // An optional choice offers "none" first; one with a default shows the default first.
  if (def.type === "enum") {
    const none = schema.safeParse(undefined);
    const options = Object.values(def.entries) as string[];
    return {
      kind: "select",
      options: none.success && none.data === undefined ? ["", ...options] : options,
    };
  }
  // A JSON text or object (a webhook body template): edited as text over several lines.
  if (def.type === "union") return { kind: "long" };
  return { kind: "text" };
}

interface Field {
  readonly name: string;
  readonly kind: Kind;
  readonly required: boolean;
  readonly secret: boolean;
}

/**
 * The fields of one type's configuration, in schema order, from its descriptor in the registry:
 * a new type (or a new field) gets its form fields without console changes.
 */
export function fieldsOf(type: DestinationTypeName): Field[] {
  const shape: Record<string, z.ZodType> = defOf(destinationTypeOf(type)!.schema).shape ?? {};
  return Object.entries(shape).map(([name, schema]) => ({
    name,
    kind: kindOf(schema),
    required: !schema.safeParse(undefined).success,
    secret: SECRET_FIELDS[type].includes(name),
  }));
}

const fieldId = (type: string, name: string) => `config-${type}-${name}`;

/** What the form shows: the current (or submitted) values and the errors by field id. */
export interface FormState {
  readonly id?: string;
  readonly name: string;
  readonly type: string;
  readonly eventTypes: string;
  readonly enabled: boolean;
  /** Non-secret configuration values, by type then field. */
  readonly config: Record<string, Record<string, unknown>>;
  /** Secret fields that have a stored value (shown as "set; leave empty to keep"). */
  readonly secretsSet: readonly string[];
  /** The delivery settings as typed, by API field (`retry_schedule` comma-separated). */
  readonly delivery: Record<string, string>;
  readonly errors: Record<string, string>;
  readonly formError?: string;
}

/** The form's state for a destination as the API returns it. */
// deno-lint-ignore no-explicit-any
export function stateOf(sub: any): FormState {
  const secrets = SECRET_FIELDS[sub.type as DestinationTypeName] ?? [];
  const config: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(sub.configuration ?? {})) {
    if (!secrets.includes(k)) config[k] = v;
  }
  return {
    id: sub.id,
    name: sub.name,
    type: sub.type,
    eventTypes: (sub.event_types as string[]).join("\n"),
    enabled: sub.enabled,
    config: { [sub.type]: config },
    secretsSet: secrets.filter((k) => sub.configuration?.[k] !== undefined),
    delivery: Object.fromEntries(
      Object.entries(sub.delivery ?? {}).map(([k, v]) => [k, [v].flat().join(", ")]),
    ),
    errors: {},
  };
}

/** An empty form. */
export const EMPTY_FORM: FormState = {
  name: "",
  type: TYPE_NAMES[0],
  eventTypes: "*",
  enabled: true,
  config: {},
  secretsSet: [],
  delivery: {},
  errors: {},
};

/** The per-destination delivery settings the form edits, with their labels. */
const DELIVERY_FIELDS = [
  ["concurrency", "Concurrency (sends at once)"],
  ["rate_limit", "Rate limit (requests per second)"],
  ["retry_schedule", "Retry schedule (delays in ms, comma-separated)"],
] as const;

/** A typed number, or the text itself so that the API names what is wrong with it. */
const numberOf = (s: string): unknown => s !== "" && Number.isFinite(Number(s)) ? Number(s) : s;

/** Reads a submitted form into the API body (PATCH-style on edit) and the state to re-show. */
export function readForm(
  form: URLSearchParams,
  editing: boolean,
  secretsSet: readonly string[] = [],
): { body: Record<string, unknown>; state: FormState } {
  const text = (k: string) => String(form.get(k) ?? "").trim();
  const type = text("type");
  const configuration: Record<string, unknown> = {};
  const shown: Record<string, unknown> = {};
  const fields = (TYPE_NAMES as readonly string[]).includes(type)
    ? fieldsOf(type as DestinationTypeName)
    : [];
  for (const f of fields) {
    const raw = text(fieldId(type, f.name));
    if (f.kind.kind === "checkbox") {
      configuration[f.name] = form.get(fieldId(type, f.name)) === "on";
    } else if (raw === "") {
      // Left empty: a stored secret is kept; any other optional field is removed.
      if (editing && !f.secret) configuration[f.name] = null;
    } else if (f.kind.kind === "map") {
      configuration[f.name] = Object.fromEntries(
        raw.split("\n").filter((l) => l.trim()).map((l) => {
          const i = l.indexOf(":");
          return i < 0 ? [l.trim(), ""] : [l.slice(0, i).trim(), l.slice(i + 1).trim()];
        }),
      );
    } else configuration[f.name] = raw;
    if (!f.secret) shown[f.name] = configuration[f.name];
  }
  const eventTypes = text("event_types");
  const typed = Object.fromEntries(DELIVERY_FIELDS.map(([k]) => [k, text(`delivery-${k}`)]));
  const settings = Object.fromEntries(
    Object.entries(typed).filter(([, v]) => v !== "").map(([k, v]) => [
      k,
      k === "retry_schedule" ? v.split(",").map((d) => numberOf(d.trim())) : numberOf(v),
    ]),
  );
  // All empty: none (on edit, `null` removes stored settings); otherwise they replace them.
  const delivery = Object.keys(settings).length ? settings : editing ? null : undefined;
  const body = {
    name: text("name"),
    type,
    event_types: eventTypes.split(/[\n,]/).map((s) => s.trim()).filter(Boolean),
    enabled: form.get("enabled") === "on",
    configuration,
    ...(delivery === undefined ? {} : { delivery }),
  };
  return {
    body,
    state: {
      name: body.name,
      type,
      eventTypes,
      enabled: body.enabled,
      config: { [type]: shown },
      secretsSet,
      delivery: typed,
      errors: {},
    },
  };
}

/** The API's issues (`details.issues`) placed next to the fields they are about. */
export function placeIssues(
  state: FormState,
  issues: { path: string; message: string }[],
  fallback: string,
): FormState {
  const errors: Record<string, string> = {};
  const rest: string[] = [];
  for (const { path, message } of issues) {
    const [head, sub] = path.split(".");
    const id = head === "configuration" && sub
      ? fieldId(state.type, sub)
      : head === "delivery" && sub
      ? `delivery-${sub}`
      : ["name", "type", "event_types"].includes(head)
      ? head
      : undefined;
    if (id) errors[id] = errors[id] ? `${errors[id]}; ${message}` : message;
    else rest.push(`${path}: ${message}`);
  }
  const formError = rest.length ? rest.join("; ") : issues.length ? undefined : fallback;
  return { ...state, errors, formError };
}

function errorOf(state: FormState, id: string): [Html, Html] {
  const e = state.errors[id];
  return e
    ? [
      new Html(` aria-invalid="true" aria-describedby="err-${id}"`),
      html`<p class="error" id="err-${id}">${e}</p>`,
    ]
    : [new Html(""), html``];
}

function field(state: FormState, type: DestinationTypeName, f: Field): Html {
  const id = fieldId(type, f.name);
  const value = state.config[type]?.[f.name];
  const [attrs, err] = errorOf(state, id);
  const label = html`<label for="${id}">${f.name}${f.required ? " (required)" : ""}</label>`;
  const hint = f.secret
    ? html`<p class="hint" id="hint-${id}">Write-only${
      state.secretsSet.includes(f.name) && state.type === type
        ? ": a value is set; leave empty to keep it"
        : ""
    }.</p>`
    : html``;
  const req = new Html(
    f.required && !(f.secret && state.secretsSet.includes(f.name)) ? " required" : "",
  );
  switch (f.kind.kind) {
    case "checkbox":
      return html`
        <div
          class="field"><input type="checkbox" id="${id}" name="${id}"${new Html(
            value ? " checked" : "",
          )}${attrs}> ${label}${err}</div>
      `;
    case "select": {
      const options = f.kind.options;
      return html`
        <div
          class="field">${label}<select id="${id}" name="${id}"${attrs}>${options.map((o) =>
            html`
              <option value="${o}" ${new Html(
                o === (value ?? options[0]) ? " selected" : "",
              )}>${o || "(none)"}</option>
            `
          )}</select>${err}</div>
      `;
    }
    case "long":
      return html`
        <div
          class="field">${label}${hint}<textarea id="${id}" name="${id}" rows="6"${attrs}>${(value as
            | string
            | undefined) ?? ""}</textarea>${err}</div>
      `;
    case "map":
      return html`<div class="field">${label}${hint}<textarea id="${id}" name="${id}" rows="3"
placeholder="Name: value, one per line"${attrs}></textarea>${err}</div>`;
    default:
      return html`
        <div
          class="field">${label}${hint}<input type="${f.secret
            ? "password"
            : "text"}" id="${id}" name="${id}" autocomplete="off" value="${f.secret
            ? ""
            : (value as string | undefined) ?? ""}"${req}${attrs}>${err}</div>
      `;
  }
}

/** The create or edit form. */
export function destinationForm(ctx: PageContext, state: FormState): Html {
  const action = state.id
    ? `${BASE}/destinations/${encodeURIComponent(state.id)}/edit`
    : `${BASE}/destinations/new`;
  const [nameAttrs, nameErr] = errorOf(state, "name");
  const [typeAttrs, typeErr] = errorOf(state, "type");
  const [evAttrs, evErr] = errorOf(state, "event_types");
  return html`<form method="post" action="${action}" novalidate>
${csrfField(ctx)}
${
    state.formError
      ? html`<p class="notice bad" role="alert">${state.formError}</p>`
      : Object.keys(state.errors).length
      ? html`<p class="notice bad" role="alert">Please correct the fields marked below.</p>`
      : html``
  }
<div class="field"><label for="name">Name (required)</label>
<input type="text" id="name" name="name" value="${state.name}" required${nameAttrs}>${nameErr}</div>
<div class="field"><label for="event_types">Event types (required)</label>
<p class="hint" id="hint-events">Notification names, one per line; * for all.</p>
<textarea id="event_types" name="event_types" rows="4" required${evAttrs}>${state.eventTypes}</textarea>${evErr}</div>
<div class="field"><input type="checkbox" id="enabled" name="enabled"${new Html(
    state.enabled ? " checked" : "",
  )}> <label for="enabled" class="inline">Enabled</label></div>
<div class="field"><label for="type">Type</label>
<select id="type" name="type"${typeAttrs}>${
    TYPE_NAMES.map((t) =>
      html`<option${new Html(t === state.type ? " selected" : "")}>${t}</option>`
    )
  }</select>${typeErr}</div>
${
    TYPE_NAMES.map((t) =>
      html`
        <fieldset
          data-type="${t}"><legend>Configuration for ${t}</legend>${fieldsOf(t).map((f) =>
            field(state, t, f)
          )}</fieldset>
      `
    )
  }
<fieldset><legend>Delivery (optional; empty keeps the relay-wide defaults)</legend>${
    DELIVERY_FIELDS.map(([k, label]) => {
      const id = `delivery-${k}`;
      const [attrs, err] = errorOf(state, id);
      return html`<div class="field"><label for="${id}">${label}</label>
<input type="text" id="${id}" name="${id}" inputmode="${
        k === "retry_schedule" ? "text" : "decimal"
      }" autocomplete="off" value="${state.delivery[k] ?? ""}"${attrs}>${err}</div>`;
    })
  }</fieldset>
<button type="submit" class="primary">${state.id ? "Save" : "Create"}</button>
<a class="button" href="${BASE}/destinations">Cancel</a>
</form>`;
}
