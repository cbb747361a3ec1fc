/**
 * 64-bit simhash over word shingles. A fingerprint is two unsigned 32-bit
 * halves; `toSigned64` gives the Postgres bigint. Pure, no I/O.
 */

import { addVote, fmix32, hashString, majority } from "./hash.ts";

export interface Fingerprint {
  hi: number;
  lo: number;
}

/** Word n-grams joined by a space; fewer words than n give one shingle of all of them. */
export function shingles(tokens: readonly string[], n: number): string[] {
  if (n < 1) throw new RangeError(`shingle size must be ≥ 1, got ${n}`);
  if (tokens.length === 0) return [];
  if (tokens.length <= n) return [tokens.join(" ")];
  const out: string[] = new Array(tokens.length - n + 1);
  for (let i = 0; i + n <= tokens.length; i++) out[i] = tokens.slice(i, i + n).join(" ");
  return out;
}

/** Simhash of a set of features (strings), each weighted by its count: the reference form. */
export function simhash(features: readonly string[]): Fingerprint {
  planesA.fill(0);
  planesB.fill(0);
  for (const f of features) {
    addVote(planesA, hashString(f, 0x9e3779b9));
    addVote(planesB, hashString(f, 0x7f4a7c15));
  }
  return { hi: majority(planesA, features.length), lo: majority(planesB, features.length) };
}

const planesA = new Uint32Array(32);
const planesB = new Uint32Array(32);

/**
 * Simhash over the word n-grams of `tokens`, each token hashed once and each
 * shingle's two 32-bit halves mixed from its tokens' hashes: no shingle strings
 * are built. A bit is set when more than half of the shingles set it. (The
 * pipeline computes the same from token hashes in fast.ts.)
 */
export function simhashTokens(tokens: readonly string[], n: number): Fingerprint {
  if (n < 1) throw new RangeError(`shingle size must be ≥ 1, got ${n}`);
  const count = tokens.length;
  if (count === 0) return { hi: 0, lo: 0 };
  const th = new Uint32Array(count);
  for (let i = 0; i < count; i++) th[i] = hashString(tokens[i]!);
  const width = Math.min(n, count);
  const features = count - width + 1;
  planesA.fill(0);
  planesB.fill(0);
  for (let i = 0; i < features; i++) {
    let a = 0x9e3779b9;
    let b = 0x7f4a7c15;
    for (let k = 0; k < width; k++) {
      const t = th[i + k]!;
      a = Math.imul(a ^ t, 0x01000193) + k;
      b = Math.imul((b ^ t) + 0x632be5ab, 0x85ebca6b) ^ (b >>> 15);
    }
    addVote(planesA, fmix32(a));
    addVote(planesB, fmix32(b));
  }
  return { hi: majority(planesA, features), lo: majority(planesB, features) };
}

function popcount32(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Number of differing bits between two fingerprints (0–64). */
export function hamming(a: Fingerprint, b: Fingerprint): number {
  return popcount32((a.hi ^ b.hi) >>> 0) + popcount32((a.lo ^ b.lo) >>> 0);
}

/** The fingerprint as a signed 64-bit integer (Postgres bigint). */
export function toSigned64(fp: Fingerprint): bigint {
  return BigInt.asIntN(64, (BigInt(fp.hi) << 32n) | BigInt(fp.lo));
}

export function fromSigned64(x: bigint): Fingerprint {
  const u = BigInt.asUintN(64, x);
  return { hi: Number(u >> 32n), lo: Number(u & 0xffffffffn) };
}
