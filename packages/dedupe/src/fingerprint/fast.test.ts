import { describe, expect, it } from "vitest";
import { words } from "../text/clean.ts";
import { fingerprintHashed, hashTokens } from "./fast.ts";
import { numberMismatches } from "./sketch.ts";

const fp = (t: string) => fingerprintHashed(hashTokens(t), 5);

describe("hashTokens splits words as words() does", () => {
  it.each([
    "Shares rose 3.5% to $2,600 in U.S. trading",
    "Texaco Canada <TXC> lowered prices, effective today.",
    "it's the company's 1,476,000 shares; O'Brien said",
    "  leading and trailing  ",
    "Évian-les-Bains et Zürich: 12,5 %",
    "",
    "a",
  ])("%j", (text) => {
    expect(hashTokens(text)).toBe(words(text).length);
  });
});

describe("fingerprintHashed", () => {
  it.each([
    ["case", "The Bank of England said", "THE BANK OF ENGLAND SAID"],
    ["thousands separators", "net loss 1,476,000 vs 11,965,000 dlrs", "net loss 1476000 vs 11965000 dlrs"],
    ["punctuation between words", "rose, fell; and held", "rose fell and held"],
  ])("ignores %s", (_what, a, b) => {
    expect(fp(a)).toEqual(fp(b));
  });
  it("tells different words apart", () => {
    expect(fp("net loss 12 cts vs 99 cts").sketch).not.toEqual(fp("net loss 14 cts vs 99 cts").sketch);
  });
  it("fills every sketch slot, even for a short text", () => {
    const f = fp("one two three four five six");
    for (let k = 0; k < f.sketch.length; k += 4) expect(f.sketch.readUInt32BE(k)).not.toBe(0xffffffff);
    expect(f.shingles).toBe(2);
  });
});

describe("numbers glued to their units", () => {
  it.each([
    ["net income was 4.3bn rupees", "net income was 4.3 bn rupees"],
    ["against $98m a year earlier", "against $98 m a year earlier"],
  ])("%s reads as %s", (a, b) => {
    expect(fp(a)).toEqual(fp(b));
  });
  it("keeps the figure a number", () => {
    const f = fp("profit 4.3bn rupees");
    expect(numberMismatches(f.numbers, fp("profit 5.3bn rupees").numbers)).toBe(1);
  });
});

describe("unit spellings", () => {
  it.each([
    ["rose 5 mln dlrs", "rose 5 million dollars"],
    ["up 3 bln", "up 3 billion"],
    ["up 3 bln", "up 3 bn"],
    ["fell 4 pct", "fell 4 per cent"],
    ["fell 4 pct", "fell 4 percent"],
    ["fell 4 pct", "fell 4 pc"],
  ])("%s reads as %s", (a, b) => {
    expect(fp(a)).toEqual(fp(b));
  });
  it.each([
    ["per cent across a paragraph break", "fell 4 per\ncent of", "fell 4 pct of"],
    ["per alone", "paid per hour", "paid pct hour"],
    ["cent alone", "a one cent coin", "a one cts coin"],
  ])("leaves %s alone", (_what, a, b) => {
    expect(fp(a).sketch).not.toEqual(fp(b).sketch);
  });
});

