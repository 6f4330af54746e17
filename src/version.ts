/**
 * The one version string, from `deno.json`, shown by `--version`, `/healthz` and the start-up log.
 *
 * @module
 */
import meta from "../deno.json" with { type: "json" };

/** The relay's version, e.g. `0.1.0`. */
export const VERSION: string = meta.version;
