const PLACEHOLDER = "http://nf.invalid/";

/**
 * An xml:base value resolved against the base in scope. A relative chain stays
 * relative (normalize resolves it against the feed URL); a base that is not
 * http(s) (javascript:, data:) is ignored.
 */
export function joinBase(outer: string | null, value: string): string | null {
  const v = value.trim();
  if (!v) return outer;
  try {
    const u = outer === null ? new URL(v) : new URL(v, outer);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : outer;
  } catch {
    // v relative with no absolute base above it, or junk
  }
  try {
    const u = new URL(v, new URL(outer ?? "", PLACEHOLDER));
    if (!u.href.startsWith(PLACEHOLDER)) return u.protocol === "http:" || u.protocol === "https:" ? u.href : outer;
    const rel = u.href.slice(PLACEHOLDER.length);
    return (outer ?? v).startsWith("/") ? `/${rel}` : rel;
  } catch {
    return outer;
  }
}
