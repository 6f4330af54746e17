/**
 * Checks admin API answers against the OpenAPI document the relay serves: every answer the admin
 * tests provoke passes through {@linkcode checkAgainstSpec}, so the document cannot drift.
 *
 * @module
 */
import { Ajv2020 } from "ajv/dist/2020.js";
import { buildOpenApi } from "../../src/admin/openapi.ts";

type Json = Record<string, unknown>;
type Validate = ((data: unknown) => boolean) & { errors?: unknown };

const spec = buildOpenApi() as {
  paths: Record<string, Record<string, { responses: Record<string, Json> }>>;
  components: { schemas: Json };
};
const ajv = new Ajv2020({ strict: false, validateFormats: false, allErrors: true });
ajv.addSchema({ $id: "spec", components: spec.components });
const compiled = new Map<string, Validate>();

/** The document's path template that matches a concrete `/api/v1/...` path, if any. */
function templateOf(path: string): string | undefined {
  const rel = path.replace(/^\/api\/v1/, "").split("?")[0];
  const want = rel === "/webhooks" ? "/webhooks/" : rel;
  return Object.keys(spec.paths).find((t) =>
    new RegExp(`^${t.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(want)
  );
}

/**
 * Throws when an answer is not one the document describes for this method, path and status.
 * Paths outside `/api/v1/` and the router's own 404 for unknown routes are not the API's.
 */
export function checkAgainstSpec(method: string, path: string, status: number, json: unknown) {
  if (!path.startsWith("/api/v1")) return;
  const template = templateOf(path);
  if (!template) {
    if (status === 404) return; // an unknown route: the router's answer, not an operation's
    throw new Error(`${method} ${path}: not in the OpenAPI document`);
  }
  const op = spec.paths[template][method.toLowerCase()];
  if (!op) {
    if (status === 404) return;
    throw new Error(`${method} ${template}: method not in the OpenAPI document`);
  }
  const response = op.responses[String(status)] as
    | { content?: { "application/json": { schema: Json } } }
    | undefined;
  if (!response) throw new Error(`${method} ${template}: status ${status} not documented`);
  const schema = response.content?.["application/json"].schema;
  if (!schema) {
    if (json !== undefined) throw new Error(`${method} ${template} ${status}: body not documented`);
    return;
  }
  const key = `${method} ${template} ${status}`;
  let validate = compiled.get(key);
  if (!validate) {
    const text = JSON.stringify(schema).replaceAll('"#/components/', '"spec#/components/');
    validate = ajv.compile(JSON.parse(text)) as Validate;
    compiled.set(key, validate);
  }
  if (!validate(json)) {
    throw new Error(
      `${key}: answer does not match the OpenAPI document: ${JSON.stringify(validate.errors)}\n` +
        JSON.stringify(json).slice(0, 2000),
    );
  }
}
