/**
 * 64-bit simhash: the reference form over shingle strings (the pipeline computes
 * it from token hashes in fast.ts), Hamming distance, and the Postgres bigint
 * encoding. A fingerprint is two unsigned 32-bit halves. Pure, no I/O.
 */

import { addVote, hashString, majority } from "./hash.ts";

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
