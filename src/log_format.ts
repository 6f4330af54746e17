/**
 * How log records are written. Values in a message are untrusted (a `notification_name`, a
 * destination's answer): in text logs control characters are escaped so no one can forge a line or
 * colour a terminal; in JSON lines the message is plain text (no stray escaped quotes). Secrets
 * (URL passwords, tokens) are always redacted; emails are masked above DEBUG.
 *
 * @module
 */
import {
  getJsonLinesFormatter,
  getTextFormatter,
  type LogRecord,
  type TextFormatter,
} from "@logtape/logtape";
import { redactSecrets, redactText } from "./redact.ts";
import { escapeControl } from "./text/control.ts";

/** The formatter for `RELAY_LOG_FORMAT`. */
export function createFormatter(format: "text" | "json"): TextFormatter {
  const base = format === "json"
    ? getJsonLinesFormatter()
    : getTextFormatter({ timestamp: "date-time-timezone" });
  return (record) => base(cleanRecord(record, format));
}

/** The record with its message rendered to one cleaned string and its string properties redacted. */
export function cleanRecord(record: LogRecord, format: "text" | "json"): LogRecord {
  const redact = record.level === "debug" || record.level === "trace" ? redactSecrets : redactText;
  let message = "";
  record.message.forEach((part, i) => {
    message += i % 2 === 0 ? String(part) : redact(render(part));
  });
  if (format === "text") message = escapeControl(message);
  const properties: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record.properties)) {
    properties[k] = typeof v === "string" ? redact(v) : v;
  }
  return { ...record, message: [message], properties };
}

function render(value: unknown): string {
  if (typeof value === "string") return value;
  if (value instanceof Error) return value.message;
  return Deno.inspect(value, { compact: true, depth: 4, breakLength: Infinity, colors: false });
}
