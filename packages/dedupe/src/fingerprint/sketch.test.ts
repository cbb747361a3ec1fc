import { describe, expect, it } from "vitest";
import { fingerprintHashed, hashTokens } from "./fast.ts";
import { containment, numberMismatches, SKETCH_SIZE } from "./sketch.ts";

// Seeded pseudo-random text: repeatable.
let seed = 7;
const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
const vocab = Array.from({ length: 3000 }, (_, i) => `w${i.toString(36)}`);
const text = (n: number) => Array.from({ length: n }, () => vocab[Math.floor(rand() * vocab.length)]).join(" ");

// The pipeline's own sketch (fast.ts), as the worker computes it.
const sk = (t: string) => {
  const f = fingerprintHashed(hashTokens(t), 5);
  return { s: f.sketch, n: f.shingles };
};

describe("containment estimate", () => {
  const base = text(400);
  const baseWords = base.split(" ");
  it.each([
    { name: "identical", other: base, lo: 0.99, hi: 1 },
    { name: "trimmed by 40% (fully contained)", other: baseWords.slice(0, 240).join(" "), lo: 0.75, hi: 1 },
    { name: "half replaced", other: [...baseWords.slice(0, 200), ...text(200).split(" ")].join(" "), lo: 0.25, hi: 0.75 },
    { name: "unrelated", other: text(400), lo: 0, hi: 0.1 },
  ])("$name: within [$lo, $hi]", ({ other, lo, hi }) => {
    const a = sk(base);
    const b = sk(other);
    const c = containment(a.s, a.n, b.s, b.n);
    expect(c).toBeGreaterThanOrEqual(lo);
    expect(c).toBeLessThanOrEqual(hi);
  });
  it("is symmetric and has a fixed size", () => {
    const a = sk(base);
    const b = sk(baseWords.slice(100).join(" "));
    expect(containment(a.s, a.n, b.s, b.n)).toBe(containment(b.s, b.n, a.s, a.n));
    expect(a.s).toHaveLength(SKETCH_SIZE * 4);
    expect(containment(a.s, 0, b.s, b.n)).toBe(0);
  });
});

describe("numberMismatches (lead numbers of the shorter text missing from the longer)", () => {
  const sig = (t: string) => fingerprintHashed(hashTokens(t), 5).numbers;
  it.each([
    { a: "Shr 10 cts vs 12 cts, net 5 mln", b: "Shr 10 cts vs 12 cts, net 5 mln", want: 0 },
    { a: "Shr 10 cts vs 12 cts, net 5 mln", b: "Shr 22 cts vs 25 cts, net 17 mln", want: 3 },
    { a: "backlog of 41 ships", b: "backlog of 30 ships", want: 1 },
    { a: "Shr 12 cts vs 99 cts", b: "Shr 12 cts vs 99 cts. Year shr 1.79 dlrs vs 1.90 dlrs", want: 0 }, // trimmed copy
    { a: "sold 185,400 tonnes", b: "sold 185400 tonnes", want: 0 }, // thousands separators normalized
    { a: "no numbers here", b: "none there either", want: 0 },
  ])("$a | $b → $want", ({ a, b, want }) => {
    expect(numberMismatches(sig(a), sig(b))).toBe(want);
  });
});
