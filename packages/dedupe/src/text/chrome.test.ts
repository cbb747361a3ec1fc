import { describe, expect, it } from "vitest";
import { chromeKey, chromeKeys } from "./chrome.ts";

describe("chromeKey", () => {
  it.each([
    ["Share this article", "SHARE THIS ARTICLE", true],
    ["You have 3 free articles remaining this month", "You have 2 free articles remaining this month", true],
    ["Share this article", "Download our app", false],
  ])("%s ~ %s: same key %s", (a, b, same) => {
    expect(chromeKey(a) === chromeKey(b)).toBe(same);
  });
  it("gives no key to a line longer than 15 words", () => {
    expect(chromeKey(Array.from({ length: 16 }, (_, i) => `w${i}`).join(" "))).toBeNull();
    expect(chromeKey(Array.from({ length: 15 }, (_, i) => `w${i}`).join(" "))).not.toBeNull();
  });
  it("lists a document's keys once each", () => {
    expect(chromeKeys(["Share this article", "share this article", "Download our app"])).toHaveLength(2);
  });
});
