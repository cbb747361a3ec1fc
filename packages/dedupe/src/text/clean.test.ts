import { describe, expect, it } from "vitest";
import { cleanText, htmlToText, normalizeUnicode, stripDateline, words } from "./clean.ts";

describe("htmlToText", () => {
  it("keeps paragraphs and drops scripts, navigation and footers", () => {
    const html = `<nav>Home | World</nav><script>var x = "<p>no</p>";</script><p>First &amp; one.</p><p>Second<br>line</p><footer>© Site</footer>`;
    expect(htmlToText(html).split(/\n+/).filter(Boolean)).toEqual(["First & one.", "Second", "line"]);
  });
});

describe("normalizeUnicode", () => {
  it.each([
    ["“quoted” ‘single’", "\"quoted\" 'single'"],
    ["a — b – c", "a - b - c"],
    ["ﬁne", "fine"], // NFKC ligature
    ["soft\u00ADhyphen zero\u200Bwidth", "softhyphen zerowidth"],
  ])("%s", (input, want) => {
    expect(normalizeUnicode(input)).toBe(want);
  });
});

describe("stripDateline", () => {
  it.each([
    ["PORT HALVERING, Nov 26 (Northwire) - Dockworkers walked out.", "Dockworkers walked out."],
    ["LONDON (Meridian Press) - Prices rose.", "Prices rose."],
    ["(Northwire) Dockworkers walked out.", "Dockworkers walked out."],
    ["The (old) port reopened.", "The (old) port reopened."],
  ])("%s", (input, want) => {
    expect(stripDateline(input)).toBe(want);
  });
});

describe("cleanText", () => {
  it.each([
    { name: "a paragraph repeated on the page counts once", input: "<p>Lead.</p><p>Lead.</p><p>Body.</p>", want: "Lead.\nBody." },
    { name: "entities in plain text", input: "Tom &amp; Jerry &quot;live&quot;", want: 'Tom & Jerry "live"' },
    { name: "whitespace folded", input: "  a \t b \n\n\n c  ", want: "a b\nc" },
    { name: "empty", input: "", want: "" },
  ])("$name", ({ input, want }) => {
    expect(cleanText(input)).toBe(want);
  });
});

describe("words", () => {
  it("lower-cases, keeps numbers whole and drops thousands separators", () => {
    expect(words("Shares rose 3.5% to $2,600 in U.S. trading")).toEqual(["shares", "rose", "3.5", "to", "2600", "in", "u.s", "trading"]);
  });
});

describe("datelines with state abbreviations", () => {
  it.each([
    ["OLD BETHPAGE, N.Y., March 2 (Reuters) - OSR Corp said", "OSR Corp said"],
    ["NEW YORK, Feb 26 - Texaco said", "Texaco said"],
    ["WASHINGTON, March 2 - The U.S. said", "The U.S. said"],
  ])("%s", (input, want) => {
    expect(stripDateline(input)).toBe(want);
  });
});

describe("plain wire text with ticker symbols", () => {
  it("keeps <TXC> as text and still parses real HTML", () => {
    expect(cleanText("Texaco Canada <TXC> lowered prices.")).toBe("Texaco Canada <TXC> lowered prices.");
    expect(cleanText("<p>Texaco Canada &lt;TXC&gt; lowered prices.</p>")).toBe("Texaco Canada <TXC> lowered prices.");
  });
});
