import { describe, expect, it } from "vitest";
import { safe, safeJson, table, truncate } from "./format.ts";

describe("safe", () => {
  it.each([
    ["SGR colour", "a\u001b[31mred\u001b[0m", "a [31mred [0m"],
    ["OSC 8 hyperlink with BEL", "\u001b]8;;http://x\u0007click\u001b]8;;\u0007", " ]8;;http://x click ]8;; "],
    ["C1 CSI", "a\u009b2Jb", "a 2Jb"],
    ["CR, LF, TAB, BEL, DEL, NUL", "a\rb\nc\td\u0007e\u007ff\u0000g", "a b c d e f g"],
    ["line and paragraph separators", "a\u2028b\u2029c", "a b c"],
    ["bidi overrides and isolates", "a\u202eb\u2066c\u2069d\u200fe\u061cf", "a b c d e f"],
    ["quotes, semicolons and percent signs are kept", `'); DROP TABLE items; -- %s %d "q"`, `'); DROP TABLE items; -- %s %d "q"`],
    ["ordinary Unicode is kept", "Café – 東京 😀", "Café – 東京 😀"],
  ])("%s", (_name, input, want) => {
    expect(safe(input)).toBe(want);
    // eslint-disable-next-line no-control-regex
    expect(safe(input)).not.toMatch(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/);
  });

  it("is applied to every string cell of a table", () => {
    expect(table(["t"], [["x\u001b[2Jy"]])).toBe("t\n------\nx [2Jy");
  });
});

describe("truncate", () => {
  it("never cuts a surrogate pair in half", () => {
    expect(truncate("ab😀cd", 4)).toBe("ab…");
    expect(truncate("abc😀d", 4)).toBe("abc…");
    expect(truncate("short", 10)).toBe("short");
  });
});

describe("safeJson", () => {
  it("escapes every control character a terminal could act on, and parses back to the same value", () => {
    const value = { title: "a\u001b[31m\u009b2J\u007f\u2028\u202e\u0000'\";%s" };
    const text = safeJson(value, 2);
    // eslint-disable-next-line no-control-regex
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e]/);
    expect(text).toContain("\\u009b");
    expect(JSON.parse(text)).toEqual(value);
  });
});
