/**
 * Control characters in untrusted text (Coder's `notification_name`, `msg_id`, a destination's
 * answer). Written raw they forge log lines (CR, LF), recolour terminals (ANSI ESC) or ring bells.
 *
 * @module
 */

// The patterns match control characters on purpose.
// deno-lint-ignore no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;
// deno-lint-ignore no-control-regex
const ANSI = /\u001b\[[0-9;?]*[A-Za-z]/g;
// deno-lint-ignore no-control-regex
const CONTROL_OR_SPACE = /[\u0000-\u001f\u007f-\u009f\s]+/g;

/** `text` with every C0/C1 control character (and DEL) written as a visible escape: `\n`, `\x1b`. */
export function escapeControl(text: string): string {
  return text.replace(CONTROL, (c) => {
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    if (c === "\t") return "\\t";
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
}

/** `text` on one line: ANSI sequences dropped, control characters and whitespace runs as one space. */
export function oneLine(text: string): string {
  return text.replace(ANSI, "").replace(CONTROL_OR_SPACE, " ").trim();
}

/** Whether `text` holds any control character. */
export function hasControl(text: string): boolean {
  CONTROL.lastIndex = 0;
  return CONTROL.test(text);
}
