/**
 * The fingerprinting hot path, fused: one pass over the cleaned text hashes its
 * word tokens (lower-cased, thousands separators dropped, a number split from a
 * glued unit) without building strings; shingle hashes are mixed from token
 * hashes, within each paragraph; the 64-bit simhash, the one-permutation MinHash
 * sketch and the number signature are all computed from those hashes. Token
 * boundaries follow words() in clean.ts (tested); simhash.ts keeps the reference
 * simhash over shingle strings.
 */
import { addVote, fmix32, majority } from "./hash.ts";
import type { Fingerprint } from "./simhash.ts";
import { LEAD_WORDS, SKETCH_SIZE, type NumberSignature } from "./sketch.ts";

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

// For every UTF-16 code unit: is it a letter or digit, and its lower case (BMP only;
// astral letters are rare in news text and count as separators).
const ALNUM = new Uint8Array(65536);
const LOWER = new Uint16Array(65536);
for (let c = 0; c < 65536; c++) {
  const ch = String.fromCharCode(c);
  LOWER[c] = c;
  if (c >= 0xd800 && c <= 0xdfff) continue;
  if (/[\p{L}\p{N}]/u.test(ch)) {
    ALNUM[c] = 1;
    const lower = ch.toLowerCase();
    if (lower.length === 1) LOWER[c] = lower.charCodeAt(0);
  }
}
const isAlnum = (c: number): boolean => ALNUM[c] === 1;

let tokenHashes = new Uint32Array(4096);
/** Per token: NUMBER when it has a digit, PARAGRAPH when it opens a paragraph (line). */
let tokenFlags = new Uint8Array(4096);
const NUMBER = 1;
const PARAGRAPH = 2;

/**
 * Hashes the word tokens of `text` into module buffers; returns how many.
 * A token is a run of letters and digits, joined across a single ' . or , between
 * two such characters; a comma between digits is dropped (1,000 = 1000).
 */
export function hashTokens(text: string): number {
  let n = 0;
  let h = FNV_OFFSET;
  let inTok = false;
  let hasDigit = false;
  let hasLetter = false;
  let paraStart = true; // the next token opens a paragraph
  let tokOpensPara = false;
  const len = text.length;
  for (let i = 0; i < len; i++) {
    let c = text.charCodeAt(i);
    if (ALNUM[c] === 1) {
      c = LOWER[c]!;
      const digit = c >= 48 && c <= 57;
      if (inTok && !digit && hasDigit && !hasLetter) {
        // A number glued to its unit ("4.3bn", "98m", "22.9p") is two tokens: the figure
        // then matches "4.3 billion" and "98 million".
        if (n === tokenHashes.length) grow();
        tokenHashes[n] = fmix32(h);
        tokenFlags[n] = NUMBER | (tokOpensPara ? PARAGRAPH : 0);
        n++;
        h = FNV_OFFSET;
        hasDigit = false;
        tokOpensPara = false;
      }
      if (digit) hasDigit = true;
      else hasLetter = true;
      h = Math.imul(h ^ c, FNV_PRIME);
      if (!inTok) {
        tokOpensPara = paraStart;
        paraStart = false;
      }
      inTok = true;
      continue;
    }
    if (inTok && (c === 39 || c === 46 || c === 44) && i + 1 < len && isAlnum(text.charCodeAt(i + 1))) {
      // A joiner inside a token; a comma between digits is a thousands separator and dropped.
      const prevDigit = text.charCodeAt(i - 1) >= 48 && text.charCodeAt(i - 1) <= 57;
      const nextDigit = text.charCodeAt(i + 1) >= 48 && text.charCodeAt(i + 1) <= 57;
      if (!(c === 44 && prevDigit && nextDigit)) h = Math.imul(h ^ c, FNV_PRIME);
      continue;
    }
    if (inTok) {
      if (n === tokenHashes.length) grow();
      tokenHashes[n] = fmix32(h);
      tokenFlags[n] = (hasDigit ? NUMBER : 0) | (tokOpensPara ? PARAGRAPH : 0);
      n++;
      h = FNV_OFFSET;
      inTok = false;
      hasDigit = false;
      hasLetter = false;
    }
    if (c === 10) paraStart = true;
  }
  if (inTok) {
    if (n === tokenHashes.length) grow();
    tokenHashes[n] = fmix32(h);
    tokenFlags[n] = (hasDigit ? NUMBER : 0) | (tokOpensPara ? PARAGRAPH : 0);
    n++;
  }
  return n;
}

function grow(): void {
  const h = new Uint32Array(tokenHashes.length * 2);
  h.set(tokenHashes);
  tokenHashes = h;
  const f = new Uint8Array(tokenFlags.length * 2);
  f.set(tokenFlags);
  tokenFlags = f;
}

/** A copy of the first `count` token hashes and flags, to hash another text meanwhile. */
export interface SavedTokens {
  hashes: Uint32Array;
  flags: Uint8Array;
  length: number;
}

export function fastTokenCopy(count: number): SavedTokens {
  return { hashes: tokenHashes.slice(0, count), flags: tokenFlags.slice(0, count), length: count };
}

/** Puts tokens saved by fastTokenCopy back into the module buffers. */
export function restoreTokens(saved: SavedTokens): void {
  while (tokenHashes.length < saved.length) grow();
  tokenHashes.set(saved.hashes);
  tokenFlags.set(saved.flags);
}

/**
 * Wire style and house styles write the same units differently ("mln", "million";
 * "pct", "per cent", "percent"; "dlrs", "dollars"): each spelling hashes as the
 * first of its line, so a restyled copy keeps its shingles. General newsroom
 * abbreviations, not phrases of any outlet. ("cts"/"cents" is left out: it made
 * templated price briefs more alike, 4 wrong pairs on dev for none found.)
 */
const UNIT_SPELLINGS = [
  ["mln", "million", "mn"],
  ["bln", "billion", "bn"],
  ["pct", "percent", "pc"],
  ["dlrs", "dollars", "dlr", "dollar"],
];
const wordHash = (w: string): number => (hashTokens(w), tokenHashes[0]!);
const SLOTS = 64;
const unitKeys = new Uint32Array(SLOTS);
const unitVals = new Uint32Array(SLOTS);
for (const [canonical, ...others] of UNIT_SPELLINGS) {
  const to = wordHash(canonical!);
  for (const w of others) {
    let slot = wordHash(w) & (SLOTS - 1);
    while (unitKeys[slot]) slot = (slot + 1) & (SLOTS - 1);
    unitKeys[slot] = wordHash(w);
    unitVals[slot] = to;
  }
}
const PER = wordHash("per");
const CENT = wordHash("cent");
const PCT = wordHash("pct");

/** Rewrites unit spellings to one form in place ("per cent" becomes one token); returns the new count. */
function canonicalUnits(th: Uint32Array, flags: Uint8Array, count: number): number {
  let out = 0;
  for (let i = 0; i < count; i++) {
    let h = th[i]!;
    const f = flags[i]!;
    if (h === PER && i + 1 < count && th[i + 1] === CENT && !(flags[i + 1]! & PARAGRAPH)) {
      h = PCT;
      i++;
    } else {
      for (let slot = h & (SLOTS - 1); unitKeys[slot]; slot = (slot + 1) & (SLOTS - 1)) {
        if (unitKeys[slot] === h) {
          h = unitVals[slot]!;
          break;
        }
      }
    }
    th[out] = h;
    flags[out] = f;
    out++;
  }
  return out;
}

export interface FastFingerprint {
  tokens: number;
  fp: Fingerprint;
  sketch: Buffer;
  shingles: number;
  numbers: NumberSignature;
}

const planesA = new Uint32Array(32);
const planesB = new Uint32Array(32);

/** Fingerprints from the token hashes of hashTokens(): extra tokens (e.g. a title) may precede. */
export function fingerprintHashed(
  count: number,
  shingleSize: number,
  prefix?: SavedTokens,
): FastFingerprint {
  count = canonicalUnits(tokenHashes, tokenFlags, count);
  let th = tokenHashes.subarray(0, count);
  let flags = tokenFlags.subarray(0, count);
  if (prefix && prefix.length) {
    const prefixLength = canonicalUnits(prefix.hashes, prefix.flags, prefix.length);
    const joined = new Uint32Array(prefixLength + count);
    joined.set(prefix.hashes.subarray(0, prefixLength));
    joined.set(th, prefixLength);
    th = joined;
    const joinedFlags = new Uint8Array(prefixLength + count);
    joinedFlags.set(prefix.flags.subarray(0, prefixLength));
    joinedFlags.set(flags, prefixLength);
    joinedFlags[0]! |= PARAGRAPH;
    if (count > 0) joinedFlags[prefix.length]! |= PARAGRAPH; // the title is a paragraph of its own
    flags = joinedFlags;
  }
  const total = th.length;
  // Numbers: a 64-bit mask of all number tokens, and one of the (at most 16) in the lead.
  const mask = Buffer.alloc(8);
  const lead = Buffer.alloc(8);
  let leadCount = 0;
  for (let i = 0; i < total; i++) {
    if (!(flags[i]! & NUMBER)) continue;
    const b = th[i]! & 63;
    mask[b >> 3]! |= 1 << (b & 7);
    if (i < LEAD_WORDS && leadCount < 16 && !(lead[b >> 3]! & (1 << (b & 7)))) {
      lead[b >> 3]! |= 1 << (b & 7);
      leadCount++;
    }
  }
  // Shingles stay inside a paragraph (a line): a page's furniture line cannot spoil the
  // shingles of the text next to it. A paragraph shorter than the shingle size is one shingle.
  // One-permutation MinHash: the shingle's low 5 bits pick one of 32 bins, each keeps its
  // smallest value; empty bins borrow from the next full one (densification).
  const mins = new Uint32Array(SKETCH_SIZE).fill(0xffffffff);
  planesA.fill(0);
  planesB.fill(0);
  let features = 0;
  let start = 0;
  for (let end = 1; end <= total; end++) {
    if (end < total && !(flags[end]! & PARAGRAPH)) continue;
    const width = Math.min(shingleSize, end - start);
    for (let i = start; i + width <= end; i++) {
      let h = 0x2545f491;
      for (let k = 0; k < width; k++) h = Math.imul(h ^ th[i + k]!, FNV_PRIME) + k;
      const s = fmix32(h);
      addVote(planesA, s);
      addVote(planesB, fmix32(s ^ 0x5bd1e995));
      const bin = s & (SKETCH_SIZE - 1);
      const v = s >>> 5;
      if (v < mins[bin]!) mins[bin] = v;
      features++;
    }
    start = end;
  }
  if (features > 0) {
    for (let k = 0; k < SKETCH_SIZE; k++) {
      if (mins[k] !== 0xffffffff) continue;
      for (let j = 1; j < SKETCH_SIZE; j++) {
        const src = mins[(k + j) & (SKETCH_SIZE - 1)]!;
        if (src !== 0xffffffff && src < 1 << 27) {
          mins[k] = (1 << 31) | (fmix32(src ^ Math.imul(j, 0x9e3779b9)) >>> 5);
          break;
        }
      }
    }
  }
  const sketch = Buffer.alloc(SKETCH_SIZE * 4);
  for (let k = 0; k < SKETCH_SIZE; k++) sketch.writeUInt32BE(mins[k]!, k * 4);
  return {
    tokens: total,
    fp: features ? { hi: majority(planesA, features), lo: majority(planesB, features) } : { hi: 0, lo: 0 },
    sketch,
    // Shingle positions stand in for distinct shingles: repeated paragraphs are gone already.
    shingles: features,
    numbers: { mask, lead },
  };
}
