/**
 * The URL schema every destination type's configuration uses, in its own module so that a
 * destination module can import it without importing the list of all types.
 *
 * @module
 */
import { z } from "zod";

/** An http(s) URL kept exactly as given: a webhook receiver may care about its trailing slash. */
export const httpUrl = z.string().trim().pipe(
  z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }),
);
