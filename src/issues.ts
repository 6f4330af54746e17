/**
 * Validation problems as the relay reports them wherever input is checked (webhook and admin API
 * bodies, the `RELAY_CONFIG` file): a dotted field path and one wording for each kind of problem.
 *
 * @module
 */
import type { z } from "zod";

/** A field-level problem, as 400 answers list them (`details.issues`). */
export interface Issue {
  readonly path: string;
  readonly message: string;
}

/** zod's issues with dotted field paths (`configuration.token`), `prefix` first. */
export function issuesOf(error: z.ZodError, prefix: readonly string[] = []): Issue[] {
  return error.issues.map((i) => ({
    path: [...prefix, ...i.path.map(String)].join(".") || "(root)",
    message: issueMessage(i),
  }));
}

/**
 * One zod issue's message as the relay words it wherever input is checked (API bodies, the config
 * file): "is required" for a missing field, zod's text without its "Invalid input: " prefix.
 */
export function issueMessage(issue: z.core.$ZodIssue): string {
  return issue.code === "invalid_type" && /received undefined/.test(issue.message)
    ? "is required"
    : issue.message.replace(/^Invalid input: /, "");
}

/** The first five issues on one line: `payload.title: is required; labels.a: expected string`. */
export function summarizeIssues(issues: readonly Issue[]): string {
  return issues.slice(0, 5).map((i) => `${i.path}: ${i.message}`).join("; ");
}
