/**
 * Reads a `Retry-After` header (RFC 9110 §10.2.3): delta-seconds ("120") or an
 * HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT"), as milliseconds from `nowMs`,
 * at most `maxMs`. A date in the past gives 0; a missing or unreadable value
 * gives null.
 */
export function parseRetryAfter(value: string | null | undefined, nowMs: number, maxMs: number): number | null {
  if (value == null) return null;
  const text = value.trim();
  if (text === "") return null;
  let ms: number;
  if (/^\d+$/.test(text)) {
    ms = Number(text) * 1000;
  } else {
    // HTTP-date in any of its three forms; all of them name a weekday or month.
    if (!/[a-z]/i.test(text)) return null;
    // asctime carries no zone but means GMT; Date.parse would read it as local time.
    const at = Date.parse(/\d{4}$/.test(text) ? `${text} GMT` : text);
    if (Number.isNaN(at)) return null;
    ms = at - nowMs;
  }
  if (!Number.isFinite(ms)) return maxMs;
  return Math.min(Math.max(0, ms), Math.max(0, maxMs));
}
