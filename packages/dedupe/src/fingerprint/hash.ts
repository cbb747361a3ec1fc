/** Hash primitives shared by the fingerprints. Pure. */

/** Finishes a 32-bit hash (murmur3's avalanche). */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 32-bit FNV-1a of a string with a seed, finished with fmix32. */
export function hashString(s: string, seed = 0): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/**
 * Bit-sliced vertical counters: plane k holds bit k of the vote count of each of
 * 32 bit positions, so adding a 32-bit word costs about two word operations
 * instead of 32 (a ripple-carry add across planes).
 */
export function addVote(planes: Uint32Array, x: number): void {
  let carry = x;
  for (let k = 0; carry !== 0; k++) {
    const p = planes[k]!;
    planes[k] = p ^ carry;
    carry = p & carry;
  }
}

/** The bits set in more than half of `features` votes. */
export function majority(planes: Uint32Array, features: number): number {
  let out = 0;
  for (let j = 0; j < 32; j++) {
    let votes = 0;
    for (let k = 0; k < 32; k++) votes |= ((planes[k]! >>> j) & 1) << k;
    if (2 * (votes >>> 0) > features) out |= 1 << j;
  }
  return out >>> 0;
}
