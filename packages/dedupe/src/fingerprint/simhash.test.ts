import { describe, expect, it } from "vitest";
import { words } from "../text/clean.ts";
import { fingerprintHashed, hashTokens } from "./fast.ts";
import { fromSigned64, hamming, shingles, simhash, toSigned64, type Fingerprint } from "./simhash.ts";

/** The pipeline's simhash (fast.ts) over word n-grams. */
const pipelineSimhash = (text: string, n = 3): Fingerprint => fingerprintHashed(hashTokens(text), n).fp;

const BASE =
  "The central bank left its benchmark interest rate unchanged on Thursday, saying inflation had eased " +
  "more slowly than expected while wage growth stayed firm across the services sector. Policymakers voted " +
  "seven to two to hold the rate at four percent, and two members argued for an immediate cut of a quarter " +
  "point. The governor told reporters that the board would watch energy prices and the labour market closely " +
  "before deciding whether to ease policy early next year, adding that the outlook remained uncertain.";
const OTHER =
  "Firefighters battled a fast-moving wildfire in the northern hills overnight as strong winds pushed flames " +
  "toward several small villages, forcing hundreds of residents to leave their homes. Officials said no deaths " +
  "had been reported but at least twelve houses and a school were destroyed. Water-dropping aircraft resumed " +
  "flights at first light, and the regional government asked the army for help clearing firebreaks before " +
  "temperatures rise again in the afternoon, when forecasters expect gusts of up to sixty kilometres an hour.";

// Both implementations must behave as a simhash: the pipeline's (fast.ts: token hashes
// mixed per shingle) and the reference one over shingle strings.
const IMPLS: { impl: string; fp: (text: string) => Fingerprint }[] = [
  { impl: "pipeline (fast.ts)", fp: (text) => pipelineSimhash(text) },
  { impl: "simhash(shingles)", fp: (text) => simhash(shingles(words(text), 3)) },
];

describe("shingles", () => {
  it.each([
    { tokens: [], n: 3, want: [] },
    { tokens: ["a"], n: 3, want: ["a"] },
    { tokens: ["a", "b", "c"], n: 3, want: ["a b c"] },
    { tokens: ["a", "b", "c", "d"], n: 2, want: ["a b", "b c", "c d"] },
    { tokens: ["a", "b"], n: 1, want: ["a", "b"] },
  ])("$tokens with n=$n", ({ tokens, n, want }) => {
    expect(shingles(tokens, n)).toEqual(want);
  });
  it("rejects a size below 1", () => {
    expect(() => shingles(["a"], 0)).toThrow(RangeError);
  });
});

describe.each(IMPLS)("$impl", ({ fp }) => {
  it("gives the same hash for the same text", () => {
    expect(fp(BASE)).toEqual(fp(BASE));
    expect(hamming(fp(BASE), fp(BASE))).toBe(0);
  });
  it.each([
    { name: "one word changed", edit: (s: string) => s.replace("Thursday", "Friday") },
    { name: "one word added", edit: (s: string) => `Officially, ${s}` },
    { name: "the closing clause dropped", edit: (s: string) => s.replace(", adding that the outlook remained uncertain", "") },
  ])("moves only a few bits when $name", ({ edit }) => {
    const d = hamming(fp(BASE), fp(edit(BASE)));
    expect(d).toBeGreaterThan(0);
    expect(d).toBeLessThanOrEqual(12);
  });
  it("puts unrelated texts about 32 bits apart", () => {
    const d = hamming(fp(BASE), fp(OTHER));
    expect(d).toBeGreaterThanOrEqual(20);
    expect(d).toBeLessThanOrEqual(44);
  });
  it("averages about 32 bits between many unrelated documents", () => {
    // Pseudo-random 120-word documents from one vocabulary, seeded so the test is repeatable.
    let seed = 42;
    const rand = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const vocab = words(`${BASE} ${OTHER}`);
    const docs = Array.from({ length: 30 }, () =>
      fp(Array.from({ length: 120 }, () => vocab[Math.floor(rand() * vocab.length)]).join(" ")),
    );
    let sum = 0;
    let pairs = 0;
    for (let i = 0; i < docs.length; i++) {
      for (let j = i + 1; j < docs.length; j++) {
        sum += hamming(docs[i]!, docs[j]!);
        pairs++;
      }
    }
    expect(sum / pairs).toBeGreaterThan(28);
    expect(sum / pairs).toBeLessThan(36);
  });
});

describe("the pipeline's simhash", () => {
  it("treats fewer tokens than the shingle size as one shingle, and no tokens as zero", () => {
    expect(pipelineSimhash("a b", 3)).toEqual(pipelineSimhash("a b", 2));
    expect(pipelineSimhash("", 3)).toEqual({ hi: 0, lo: 0 });
  });
  it("depends on word order inside a shingle", () => {
    expect(pipelineSimhash("a b c", 3)).not.toEqual(pipelineSimhash("c b a", 3));
  });
});

describe("fingerprint encoding", () => {
  it.each([
    { hi: 0, lo: 0 },
    { hi: 0xffffffff, lo: 0xffffffff },
    { hi: 0x80000000, lo: 1 },
    { hi: 0x12345678, lo: 0x9abcdef0 },
  ])("round-trips $hi/$lo through a signed bigint", (f) => {
    const s = toSigned64(f);
    expect(s >= -(2n ** 63n) && s < 2n ** 63n).toBe(true);
    expect(fromSigned64(s)).toEqual(f);
  });
  it.each([
    { a: { hi: 0, lo: 0 }, b: { hi: 0, lo: 0 }, d: 0 },
    { a: { hi: 0, lo: 0 }, b: { hi: 0xffffffff, lo: 0xffffffff }, d: 64 },
    { a: { hi: 1, lo: 0 }, b: { hi: 0, lo: 0x80000000 }, d: 2 },
  ])("hamming($a, $b) = $d", ({ a, b, d }) => {
    expect(hamming(a, b)).toBe(d);
  });
});
