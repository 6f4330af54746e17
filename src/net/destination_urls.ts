/**
 * The admin API's check of a subscription's URLs against the address guard, so an operator learns
 * at once (400 naming the field) that a destination points at a private address. This is a
 * convenience: the guarantee is the connect-time check of {@link ./guarded_fetch.ts}, which also
 * catches names that resolve differently later.
 *
 * @module
 */
import type { Issue } from "../issues.ts";
import type { AddressAllowlist } from "./address_guard.ts";
import { assertHostAllowed, BlockedAddressError } from "./guarded_fetch.ts";

/** Configuration keys that hold a URL the relay will call. */
const URL_FIELDS = ["url", "api_url"] as const;

/** Issues for every URL in `configuration` whose host is (or resolves to) a disallowed address. */
export async function destinationUrlIssues(
  configuration: Readonly<Record<string, unknown>>,
  allowlist: AddressAllowlist,
): Promise<Issue[]> {
  const issues: Issue[] = [];
  for (const field of URL_FIELDS) {
    const value = configuration[field];
    if (typeof value !== "string") continue;
    let host: string;
    try {
      host = new URL(value).hostname;
    } catch {
      continue; // the schema reports malformed URLs
    }
    try {
      await assertHostAllowed(host, allowlist);
    } catch (err) {
      // A name that does not resolve now is left to delivery time, like any DNS outage.
      if (err instanceof BlockedAddressError) {
        issues.push({ path: `configuration.${field}`, message: err.message });
      }
    }
  }
  return issues;
}
