import { createHash } from "node:crypto";
import { cleanText, words } from "../text/clean.ts";
import { simhashTokens, type Fingerprint } from "./simhash.ts";

export interface FingerprintOptions {
  /** Words per shingle. */
  shingleSize: number;
}

export const DEFAULT_FINGERPRINT: FingerprintOptions = { shingleSize: 3 };

export interface PreparedDoc {
  text: string;
  fp: Fingerprint;
}

/** Cleans a body and fingerprints it: the pure half of the dedupe stage. */
export function prepareDoc(body: string, opts: FingerprintOptions = DEFAULT_FINGERPRINT): PreparedDoc {
  const text = cleanText(body);
  return { text, fp: simhashTokens(words(text), opts.shingleSize) };
}

/** The index id of an item: stable across fetches, short. */
export function itemRef(feedId: number, identityKey: string): string {
  return createHash("sha1").update(`${feedId}\u0000${identityKey}`).digest("base64url").slice(0, 16);
}
