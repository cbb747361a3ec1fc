import { createHash } from "node:crypto";
import { cleanText, words } from "../text/clean.ts";
import { simhashTokens, type Fingerprint } from "./simhash.ts";
import { minhash, numberSignature, shingleHashes, type NumberSignature } from "./sketch.ts";

export interface FingerprintOptions {
  /** Words per shingle. */
  shingleSize: number;
}

export const DEFAULT_FINGERPRINT: FingerprintOptions = { shingleSize: 5 };

export interface PreparedDoc {
  text: string;
  tokens: string[];
  /** 64-bit simhash of the shingles (stored with the item). */
  fp: Fingerprint;
  /** MinHash sketch of the shingles, for candidates (LSH bands) and verification. */
  sketch: Buffer;
  /** Distinct shingles. */
  shingles: number;
  numbers: NumberSignature;
}

/** Fingerprints of a token sequence. */
export function fingerprintTokens(tokens: string[], text: string, opts: FingerprintOptions): PreparedDoc {
  const hashes = shingleHashes(tokens, opts.shingleSize);
  return {
    text,
    tokens,
    fp: simhashTokens(tokens, opts.shingleSize),
    sketch: minhash(hashes),
    shingles: hashes.length,
    numbers: numberSignature(tokens),
  };
}

/** Cleans a body and fingerprints it: the pure half of the dedupe stage. */
export function prepareDoc(body: string, opts: FingerprintOptions = DEFAULT_FINGERPRINT): PreparedDoc {
  const text = cleanText(body);
  return fingerprintTokens(words(text), text, opts);
}

/** The index id of an item: stable across fetches, short. */
export function itemRef(feedId: number, identityKey: string): string {
  return createHash("sha1").update(`${feedId}\u0000${identityKey}`).digest("base64url").slice(0, 16);
}
