/**
 * Per-source boilerplate ("chrome"), learned from each source's own stream: a
 * short line that recurs across several items of one feed is that feed's
 * furniture ("Share this article", "You have 3 free articles remaining"), not
 * story text. Here: the pure part, which lines are candidates and their keys;
 * the counts live in the Redis index. Pure, no I/O.
 */
import { createHash } from "node:crypto";

/** Lines longer than this are never treated as chrome. */
export const CHROME_MAX_WORDS = 15;

/**
 * The key under which a paragraph is counted, or null when it is too long to be
 * chrome. Case-folded, digits folded (counters and dates vary), whitespace folded.
 */
export function chromeKey(paragraph: string): string | null {
  let words = 1;
  for (let i = 0; i < paragraph.length; i++) if (paragraph.charCodeAt(i) === 32 && ++words > CHROME_MAX_WORDS) return null;
  const norm = paragraph.toLowerCase().replace(/\d+/g, "0");
  return createHash("sha1").update(norm).digest("base64url").slice(0, 10);
}

/** Distinct chrome keys of a document's paragraphs. */
export function chromeKeys(paragraphs: readonly string[]): string[] {
  const keys = new Set<string>();
  for (const p of paragraphs) {
    const k = chromeKey(p);
    if (k) keys.add(k);
  }
  return [...keys];
}
