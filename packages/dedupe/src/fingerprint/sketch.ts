/**
 * The verification sketch's constants and the rules the Lua assignment script
 * applies to it, mirrored in TypeScript for tests and analysis. The sketch itself
 * (a 32-value one-permutation MinHash over the paragraph-bounded word shingles)
 * and the number signature are computed in fast.ts. Pure, no I/O.
 */

/** MinHash values per sketch (the index uses the first 20 as LSH bands, all 32 to verify). */
export const SKETCH_SIZE = 32;

/** Words at the start of the body whose numbers must be found in the other text. */
export const LEAD_WORDS = 40;

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
  /** The same 64-bit set for the numbers among its first LEAD_WORDS words, at most 16 (8 bytes). */
  lead: Buffer;
}

/**
 * Numbers in the lead of `shorter` missing from the numbers of `longer`: a trimmed
 * copy keeps its lead, while templated briefs differ in their leading figures.
 */
export function numberMismatches(shorter: NumberSignature, longer: NumberSignature): number {
  let n = 0;
  for (let i = 0; i < 8; i++) {
    for (let missing = shorter.lead[i]! & ~longer.mask[i]!; missing; missing &= missing - 1) n++;
  }
  return n;
}
