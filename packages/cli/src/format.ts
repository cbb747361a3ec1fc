/** Output helpers: safe terminal text, tables, durations. */

/**
 * Replaces each control character with a space so that stored text cannot
 * drive the terminal: C0 and C1 controls (ESC and CSI, so ANSI/OSC escape
 * sequences lose their introducer and print as inert text; BEL, CR, LF, TAB),
 * DEL, the Unicode line and paragraph separators, and the bidirectional
 * formatting characters (which can reorder what a line appears to say).
 */
export function safe(text: string | null | undefined): string {
  // eslint-disable-next-line no-control-regex
  return (text ?? "").replace(/[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g, " ");
}

/** Characters JSON.stringify leaves raw that a terminal may act on: DEL, C1, separators, bidi controls. */
const JSON_RAW_CONTROLS = /[\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/**
 * JSON.stringify, with DEL, the C1 controls, the line and paragraph separators
 * and the bidi controls written as \uXXXX escapes too (JSON.stringify escapes
 * only C0): the same JSON value, but no raw byte of it can drive a terminal.
 */
export function safeJson(value: unknown, space?: number): string {
  return JSON.stringify(value, null, space).replace(JSON_RAW_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** At most `width` UTF-16 code units, "…" included, never cutting a surrogate pair in half. */
export function truncate(s: string, width: number): string {
  if (s.length <= width) return s;
  let end = Math.max(0, width - 1);
  const last = s.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${s.slice(0, end)}…`;
}

/** A plain left-aligned table; numbers right-aligned. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = rows.map((r) => r.map((c) => (typeof c === "number" ? String(c) : safe(c))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => r[i]!.length)));
  const isNum = headers.map((_, i) => rows.length > 0 && rows.every((r) => typeof r[i] === "number"));
  const line = (r: string[]) =>
    r.map((c, i) => (isNum[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join("  ").trimEnd();
  return [line(headers), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n");
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

/** "90s", "15m", "24h", "7d", "2w" → ms; undefined when not a duration. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim());
  return m ? Number(m[1]) * UNITS[m[2]!]! : undefined;
}

/** A time given as a duration ago ("24h") or an ISO 8601 instant. */
export function parseSince(text: string, now = new Date()): Date | undefined {
  const ms = parseDuration(text);
  if (ms !== undefined) return new Date(now.getTime() - ms);
  if (!/^\d{4}-\d\d-\d\d/.test(text)) return undefined;
  const t = Date.parse(text);
  return Number.isNaN(t) ? undefined : new Date(t);
}
