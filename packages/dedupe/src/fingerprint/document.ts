import { createHash } from "node:crypto";
import { chromeKey } from "../text/chrome.ts";
import { cleanParagraphs, cleanText } from "../text/clean.ts";
import { fastTokenCopy, fingerprintHashed, hashTokens, restoreTokens } from "./fast.ts";
import type { Fingerprint } from "./simhash.ts";
import type { NumberSignature } from "./sketch.ts";

export interface FingerprintOptions {
  /** Words per shingle. */
  shingleSize: number;
}

export const DEFAULT_FINGERPRINT: FingerprintOptions = { shingleSize: 5 };

export interface PreparedDoc {
  text: string;
  /** Word tokens fingerprinted. */
  tokens: number;
  /** 64-bit simhash of the shingles (stored with the item). */
  fp: Fingerprint;
  /** MinHash sketch of the shingles, for candidates (LSH bands) and verification. */
  sketch: Buffer;
  /** Distinct shingles. */
  shingles: number;
  numbers: NumberSignature;
}

/**
 * Cleans a body and fingerprints it: the pure half of the dedupe stage. Paragraphs
 * whose chrome key is in `chrome` (the source's learned boilerplate) are left out.
 * When the body has fewer than `minWords` words, the title's words are
 * fingerprinted before it.
 */
export function prepareDoc(
  body: string | readonly string[],
  opts: FingerprintOptions = DEFAULT_FINGERPRINT,
  short?: { title: string; minWords: number },
  chrome?: ReadonlySet<string>,
): PreparedDoc {
  // A body already split into clean paragraphs may be passed as such.
  let paragraphs = typeof body === "string" ? cleanParagraphs(body) : body;
  if (chrome?.size) paragraphs = paragraphs.filter((p) => !chrome.has(chromeKey(p) ?? ""));
  const text = paragraphs.join("\n");
  let count = hashTokens(text);
  if (short && count < short.minWords) {
    const bodyHashes = fastTokenCopy(count);
    const titleCount = hashTokens(cleanText(short.title));
    const titleHashes = fastTokenCopy(titleCount);
    restoreTokens(bodyHashes);
    count = bodyHashes.length;
    return { text, ...fingerprintHashed(count, opts.shingleSize, titleHashes) };
  }
  return { text, ...fingerprintHashed(count, opts.shingleSize) };
}

/** The index id of an item: stable across fetches, short. */
export function itemRef(feedId: number, identityKey: string): string {
  return createHash("sha1").update(`${feedId}\u0000${identityKey}`).digest("base64url").slice(0, 16);
}
