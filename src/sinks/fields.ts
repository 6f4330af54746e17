/**
 * Configuration fields several destination types (and `config.ts`) share, so a URL or an icon is
 * checked the same way wherever it is given.
 *
 * @module
 */
import { z } from "zod";

/** An http(s) URL kept exactly as given: a webhook receiver may care about its trailing slash. */
export const httpUrl = z.string().trim().pipe(
  z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }),
);

/** An API base URL, without trailing slashes, as the sinks append `/method`. */
export const apiUrl = httpUrl.refine(
  (u) => !/[?#]/.test(u) && !new URL(u).username && !new URL(u).password,
  "expected a base URL without credentials, query or fragment",
).transform((u) => u.replace(/\/+$/, ""));

/** A credential: any non-empty string. */
export const secret = z.string().trim().min(1, "must not be empty");

/** A Slack sender icon: `:emoji:` or an image URL. */
export const slackIcon = z.string().trim().regex(
  /^(:[\w+'-]+:|https?:\/\/\S+)$/,
  "expected :emoji: or an http(s) image URL",
);
