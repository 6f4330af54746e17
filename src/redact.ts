/**
 * Redaction of secrets in text the relay shows: admin API output, logs and stored `status_reason`s.
 * URL passwords, token-like query values, bearer and Slack tokens are replaced; emails are masked.
 * One place, so every output path hides the same things the same way.
 *
 * @module
 */
import { oneLine } from "./text/control.ts";

/** Query parameters whose values are credentials. */
const SECRET_PARAMS =
  /^(token|access_token|refresh_token|id_token|auth|authorization|password|passwd|pwd|pass|key|api_key|apikey|secret|client_secret|sig|signature|code|session|sessionid|x-amz-signature|x-amz-credential)$/i;

/** Shown in place of a secret. */
export const REDACTED = "REDACTED";

/**
 * A URL with its userinfo password (or a user name standing alone, as a token does) and token-like
 * query values replaced. Works on strings that do
 * not parse as URLs too (a raw `#` or `@` in a password), by hiding everything between `://` and
 * the last `@` of the authority.
 */
export function redactUrl(url: string): string {
  let u: URL | undefined;
  try {
    u = new URL(url);
  } catch { /* handled below */ }
  // A raw `#` in a password can still parse, the rest of the password landing in the fragment.
  if (!u || u.hash.includes("@") || url.split("@").length > 2) {
    return url.replace(/^([a-z][a-z0-9+.-]*:\/\/).*@/i, `$1${REDACTED}@`)
      .replace(/([?&][^=&#]*(?:password|token|secret|key|sig)[^=&#]*=)[^&#]*/gi, `$1${REDACTED}`);
  }
  // A lone user name is how a token rides in a URL (`https://TOKEN@host/`): hide it too.
  if (u.password) u.password = REDACTED;
  else if (u.username) u.username = REDACTED;
  for (const name of [...u.searchParams.keys()]) {
    if (SECRET_PARAMS.test(name)) u.searchParams.set(name, REDACTED);
  }
  return u.href;
}

/** `jane.doe@example.com` → `j***@example.com`. */
export function maskEmails(text: string): string {
  return text.replace(
    /([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})\b/g,
    "$1***@$2",
  );
}

/** Any text with URLs redacted and bearer, Slack, webhook and `password=` style secrets hidden. */
export function redactSecrets(text: string): string {
  return text
    .replace(/\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>]+/gi, (url) => redactUrl(url))
    .replace(/\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`)
    .replace(/\bxox[a-z]-[A-Za-z0-9-]+/g, `xox-${REDACTED}`)
    .replace(/\bwhsec_[A-Za-z0-9+/=]+/g, `whsec_${REDACTED}`)
    .replace(/("?(?:password|token|secret|api_key)"?\s*[:=]\s*"?)[^\s",}&]+/gi, `$1${REDACTED}`);
}

/** {@linkcode redactSecrets} and {@linkcode maskEmails}: for anything shown outside DEBUG. */
export function redactText(text: string): string {
  return maskEmails(redactSecrets(text));
}

/**
 * A destination's answer as `status_reason` may quote it: one line of printable characters, at
 * most `max` long, with secrets and emails hidden. Never the whole body: it may echo anything.
 */
export function summarizeAnswer(text: string, max = 80): string {
  const line = oneLine(redactText(text));
  return line.length > max ? `${line.slice(0, max)}…` : line;
}
