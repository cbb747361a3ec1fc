import { fmix32, hashString } from "./hash.ts";

/**
 * The verification sketch of a document: a 32-value MinHash over its word
 * n-gram shingles (to estimate how much of one text another contains), and a
 * signature of the numbers it carries (templated briefs differ in their numbers).
 * Pure, no I/O.
 */

/** MinHash values per sketch; each value is an LSH band of its own. */
export const SKETCH_SIZE = 32;
export const BAND_ROWS = 1;
export const BANDS = SKETCH_SIZE / BAND_ROWS;

/** Words at the start of the body whose numbers must be found in the other text. */
export const LEAD_WORDS = 40;

const hashToken = (s: string) => hashString(s);

const SEEDS = Uint32Array.from({ length: SKETCH_SIZE }, (_, i) => fmix32(Math.imul(i + 1, 0x9e3779b9)));

/** Distinct shingle hashes of the token n-grams (all tokens as one shingle when fewer than n). */
export function shingleHashes(tokens: readonly string[], n: number): Uint32Array {
  if (tokens.length === 0) return new Uint32Array(0);
  const th = tokens.map(hashToken);
  const width = Math.min(n, th.length);
  const set = new Set<number>();
  for (let i = 0; i + width <= th.length; i++) {
    let h = 0x2545f491;
    for (let k = 0; k < width; k++) h = Math.imul(h ^ th[i + k]!, 0x01000193) + k;
    set.add(fmix32(h));
  }
  return Uint32Array.from(set);
}

/** MinHash of the shingle hashes, SKETCH_SIZE big-endian uint32 values. */
export function minhash(shingles: Uint32Array): Buffer {
  const mins = new Uint32Array(SKETCH_SIZE).fill(0xffffffff);
  for (let i = 0; i < shingles.length; i++) {
    const v = shingles[i]!;
    for (let k = 0; k < SKETCH_SIZE; k++) {
      const x = fmix32(v ^ SEEDS[k]!);
      if (x < mins[k]!) mins[k] = x;
    }
  }
  const out = Buffer.alloc(SKETCH_SIZE * 4);
  for (let k = 0; k < SKETCH_SIZE; k++) out.writeUInt32BE(mins[k]!, k * 4);
  return out;
}

/**
 * Estimated share of the smaller shingle set contained in the other, from the
 * sketches' agreement (a Jaccard estimate) and the two set sizes.
 */
export function containment(a: Buffer, na: number, b: Buffer, nb: number): number {
  const m = Math.min(na, nb);
  if (m === 0) return 0;
  let eq = 0;
  for (let k = 0; k < SKETCH_SIZE; k++) if (a.readUInt32BE(k * 4) === b.readUInt32BE(k * 4)) eq++;
  const j = eq / SKETCH_SIZE;
  return Math.min(1, (j * (na + nb)) / (1 + j) / m);
}

export interface NumberSignature {
  /** 64-bit set of the document's number tokens (8 bytes). */
  mask: Buffer;
  /** Bit positions (0–63) of the numbers among its first LEAD_WORDS words, at most 16. */
  lead: Buffer;
}

const numberBit = (t: string) => hashToken(t) & 63;
const isNumber = (t: string) => /\d/.test(t);

export function numberSignature(tokens: readonly string[]): NumberSignature {
  const mask = Buffer.alloc(8);
  for (const t of tokens) {
    if (!isNumber(t)) continue;
    const b = numberBit(t);
    mask[b >> 3]! |= 1 << (b & 7);
  }
  const lead = [...new Set(tokens.slice(0, LEAD_WORDS).filter(isNumber).map(numberBit))].slice(0, 16);
  return { mask, lead: Buffer.from(lead) };
}

/**
 * Numbers in the lead of `shorter` missing from the numbers of `longer`: a trimmed
 * copy keeps its lead, while templated briefs differ in their leading figures.
 */
export function numberMismatches(shorter: NumberSignature, longer: NumberSignature): number {
  let n = 0;
  for (const p of shorter.lead) if (!(longer.mask[p >> 3]! & (1 << (p & 7)))) n++;
  return n;
}
