import { describe, expect, it } from "vitest";
import { decodeOpml, parseOpml, renderOpml } from "./opml.ts";
import { parseDuration, parseSince, safe } from "./format.ts";

const doc = (body: string) => `<?xml version="1.0" encoding="UTF-8"?><opml version="2.0"><head/><body>${body}</body></opml>`;

describe("parseOpml", () => {
  it.each([
    {
      name: "nested folders",
      xml: doc(`<outline text="News"><outline text="World"><outline text="A" xmlUrl="https://a.example/rss"/></outline></outline>
                <outline text="B" xmlUrl="https://b.example/rss"/><outline text="folder only"/>`),
      want: [{ url: "https://a.example/rss", title: "A" }, { url: "https://b.example/rss", title: "B" }],
    },
    {
      name: "escaped markup and query strings",
      xml: doc(`<outline text="A &amp; B &lt;live&gt; &quot;q&quot; &apos;s&apos;" xmlUrl="https://c.example/feed?x=1&amp;y=2"/>`),
      want: [{ url: "https://c.example/feed?x=1&y=2", title: `A & B <live> "q" 's'` }],
    },
    {
      name: "character references and non-ASCII titles",
      xml: doc(`<outline text="Caf&#233; &#x4E16;&#x754C; Ελληνικά 🗞" xmlUrl="https://d.example/rss"/>`),
      want: [{ url: "https://d.example/rss", title: "Café 世界 Ελληνικά 🗞" }],
    },
    {
      name: "title preferred to text, and whitespace trimmed",
      xml: doc(`<outline text="the text" title="  the title  " xmlUrl="  https://e.example/rss  "/>`),
      want: [{ url: "https://e.example/rss", title: "the title" }],
    },
    {
      name: "attribute names in any case",
      xml: doc(`<OUTLINE TEXT="F" XMLURL="https://f.example/rss"/>`),
      want: [{ url: "https://f.example/rss", title: "F" }],
    },
    {
      name: "duplicate URLs once, the first title winning",
      xml: doc(`<outline text="first" xmlUrl="https://g.example/rss"/><outline text="Dup"><outline text="second" xmlUrl="https://g.example/rss"/></outline>`),
      want: [{ url: "https://g.example/rss", title: "first" }],
    },
    {
      name: "no title, or a title that is only the URL, as none",
      xml: doc(`<outline xmlUrl="https://h.example/rss"/><outline text="https://i.example/rss" xmlUrl="https://i.example/rss"/>
                <outline text="https://j.example/rss" title="https://j.example/rss" xmlUrl="https://j.example/rss"/><outline text="" xmlUrl="https://k.example/rss"/>`),
      want: [
        { url: "https://h.example/rss", title: null }, { url: "https://i.example/rss", title: null },
        { url: "https://j.example/rss", title: null }, { url: "https://k.example/rss", title: null },
      ],
    },
    { name: "an outline with an empty xmlUrl skipped", xml: doc(`<outline text="L" xmlUrl=""/>`), want: [] },
    { name: "an empty body", xml: doc(""), want: [] },
    {
      name: "OPML 1.0 without a declaration",
      xml: `<opml version="1.0"><body><outline title="M" type="rss" xmlUrl="http://m.example/rss" htmlUrl="http://m.example/"/></body></opml>`,
      want: [{ url: "http://m.example/rss", title: "M" }],
    },
  ])("reads $name", ({ xml, want }) => {
    expect(parseOpml(xml)).toEqual(want);
  });

  it.each([["<rss/>"], [""], ["not xml at all"]])("rejects %j: not OPML", (xml) => {
    expect(() => parseOpml(xml)).toThrow(/not an OPML document/);
  });
});

describe("renderOpml", () => {
  it.each([
    { name: "plain titles", feeds: [{ url: "https://a.example/rss", title: "A" }] },
    { name: "markup and ampersands", feeds: [{ url: "https://c.example/feed?x=1&y=2", title: `A & B <live> "quoted" 's'` }] },
    { name: "non-ASCII titles", feeds: [{ url: "https://d.example/rss", title: "Café 世界 Ελληνικά 🗞" }] },
    { name: "a feed without a title", feeds: [{ url: "https://h.example/rss", title: null }] },
    { name: "line breaks and tabs in a title", feeds: [{ url: "https://n.example/rss", title: "two\nlines\tand a tab" }] },
    {
      name: "several feeds, in order",
      feeds: [{ url: "https://z.example/rss", title: "Z" }, { url: "https://a.example/rss", title: null }, { url: "https://m.example/rss", title: "M" }],
    },
  ])("gives back the same feeds when read again: $name", ({ feeds }) => {
    const xml = renderOpml(feeds);
    expect(parseOpml(xml)).toEqual(feeds);
    // Rendering what was read gives the same document: export → import → export is stable.
    expect(renderOpml(parseOpml(xml))).toBe(xml);
  });

  it("writes well-formed XML: markup escaped, characters XML cannot carry dropped", () => {
    const xml = renderOpml([{ url: "https://o.example/rss?a=1&b=2", title: "bell\u0007 esc\u001b[31m <b>&" }]);
    expect(xml).toContain(`text="bell esc[31m &lt;b&gt;&amp;" title="bell esc[31m &lt;b&gt;&amp;" xmlUrl="https://o.example/rss?a=1&amp;b=2"`);
    // eslint-disable-next-line no-control-regex
    expect(xml).not.toMatch(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/);
    expect(parseOpml(xml)).toEqual([{ url: "https://o.example/rss?a=1&b=2", title: "bell esc[31m <b>&" }]);
  });

  it("gives an untitled feed its URL as the required text attribute, and no title", () => {
    expect(renderOpml([{ url: "https://h.example/rss", title: null }])).toContain(
      `<outline type="rss" text="https://h.example/rss" xmlUrl="https://h.example/rss"/>`,
    );
  });
});

describe("decodeOpml", () => {
  const opml = `<opml version="2.0"><body><outline text="Café" xmlUrl="https://cafe.example/rss"/></body></opml>`;
  const want = [{ url: "https://cafe.example/rss", title: "Café" }];
  it.each([
    { name: "UTF-8", bytes: Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>${opml}`, "utf8") },
    { name: "UTF-8 with a byte order mark", bytes: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(opml, "utf8")]) },
    { name: "UTF-8 without a declaration", bytes: Buffer.from(opml, "utf8") },
    { name: "ISO-8859-1 as declared", bytes: Buffer.from(`<?xml version="1.0" encoding="ISO-8859-1"?>${opml}`, "latin1") },
    { name: "windows-1252 as declared, single quotes", bytes: Buffer.from(`<?xml version='1.0' encoding='windows-1252'?>${opml}`, "latin1") },
    { name: "UTF-16LE by its byte order mark", bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(opml, "utf16le")]) },
  ])("reads $name", ({ bytes }) => {
    expect(parseOpml(decodeOpml(bytes))).toEqual(want);
  });

  it("names an encoding it does not know", () => {
    expect(() => decodeOpml(Buffer.from(`<?xml version="1.0" encoding="x-klingon"?>${opml}`))).toThrow(/unknown encoding 'x-klingon'/);
  });
});

describe("format", () => {
  it.each([
    ["90s", 90_000], ["15m", 900_000], ["24h", 86_400_000], ["7d", 604_800_000], ["1w", 604_800_000], ["7", undefined], ["h", undefined],
  ])("parseDuration(%s)", (text, want) => {
    expect(parseDuration(text)).toBe(want);
  });
  it.each([
    ["24h", "2026-11-26T12:00:00.000Z"], ["2026-11-01T00:00:00Z", "2026-11-01T00:00:00.000Z"], ["yesterday", null],
  ])("parseSince(%s)", (text, want) => {
    expect(parseSince(text, new Date("2026-11-27T12:00:00Z"))?.toISOString() ?? null).toBe(want);
  });
  it("neutralizes control characters and ANSI escapes", () => {
    expect(safe("a\u001b[31mred\u0007\nb")).toBe("a [31mred  b");
  });
});
