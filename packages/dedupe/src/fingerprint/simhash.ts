/**
 * 64-bit simhash over word shingles. A fingerprint is two unsigned 32-bit
 * halves; `toSigned64` gives the Postgres bigint. Pure, no I/O.
 */

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

/** 32-bit FNV-1a with a seed, finished with murmur3's avalanche. */
function hash32(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Simhash of a set of features, each weighted by its count. */
export function simhash(features: readonly string[]): Fingerprint {
  const v = new Int32Array(64);
  for (const f of features) {
    const a = hash32(f, 0x9e3779b9);
    const b = hash32(f, 0x7f4a7c15);
    for (let i = 0; i < 32; i++) {
      v[i]! += (a >>> i) & 1 ? 1 : -1;
      v[32 + i]! += (b >>> i) & 1 ? 1 : -1;
    }
  }
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < 32; i++) {
    if (v[i]! > 0) hi |= 1 << i;
    if (v[32 + i]! > 0) lo |= 1 << i;
  }
  return { hi: hi >>> 0, lo: lo >>> 0 };
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

/** Four 16-bit bands, high to low: any two fingerprints within distance 3 share one. */
export function bands16(fp: Fingerprint): [number, number, number, number] {
  return [fp.hi >>> 16, fp.hi & 0xffff, fp.lo >>> 16, fp.lo & 0xffff];
}
