/**
 * Per-source boilerplate ("chrome"), learned from each source's own stream: a
 * short line that recurs across several items of one feed is that feed's
 * furniture ("Share this article", "You have 3 free articles remaining"), not
 * story text. Here: the pure part, which lines are candidates and their keys;
 * the counts live in the Redis index. Pure, no I/O.
 */
import { fmix32 } from "../fingerprint/hash.ts";

/** Lines longer than this are never treated as chrome. */
export const CHROME_MAX_WORDS = 15;

/**
 * The key under which a paragraph is counted, or null when it is too long to be
 * chrome. Case-folded, digits folded (counters and dates vary), whitespace folded.
 */
export function chromeKey(paragraph: string): string | null {
  // One pass: count words, and hash the line lower-cased with each run of digits as "0",
  // twice with different seeds (64 bits: ample for one feed's short lines).
  let words = 1;
  let a = 0x811c9dc5 ^ 0x243f6a88;
  let b = 0x811c9dc5 ^ 0x85a308d3;
  let inDigits = false;
  for (let i = 0; i < paragraph.length; i++) {
    let c = paragraph.charCodeAt(i);
    if (c === 32 && ++words > CHROME_MAX_WORDS) return null;
    if (c >= 48 && c <= 57) {
      if (inDigits) continue;
      inDigits = true;
      c = 48;
    } else {
      inDigits = false;
      if (c >= 65 && c <= 90) c += 32;
      else if (c > 127) c = paragraph[i]!.toLowerCase().charCodeAt(0);
    }
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  return fmix32(a).toString(36) + fmix32(b ^ 0x5bd1e995).toString(36);
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
