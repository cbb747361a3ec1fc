import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { countWords, decodeHtml, fillFullText, needsFullText, type FetchPage, type PageResponse } from "./fulltext.ts";

const fixture = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url));
const ARTICLE = fixture("article.html");
const INDEX_PAGE = fixture("index-page.html");
const SUMMARY = "<p>The Skarvik ferry is back after eleven weeks in dry dock.</p>";
const words = (n: number) => Array.from({ length: n }, (_, i) => `word${i}`).join(" ");

const html = (body: Buffer | string, init: Partial<PageResponse> = {}): PageResponse => ({
  status: 200,
  url: "https://ledger.example/local/2031/03/ferry.html",
  body: typeof body === "string" ? Buffer.from(body) : body,
  headers: new Headers({ "content-type": "text/html; charset=utf-8" }),
  ...init,
});

/** A fake fetchPage: a plain function answering from a table, recording the URLs asked for. */
function pages(table: Record<string, () => PageResponse | Promise<PageResponse>>) {
  const calls: string[] = [];
  const fetchPage: FetchPage = async (url) => {
    calls.push(url);
    const answer = table[url];
    if (!answer) throw new Error(`unexpected fetch of ${url}`);
    return answer();
  };
  return { fetchPage, calls };
}

describe("countWords", () => {
  it.each([
    ["empty", "", 0],
    ["plain text", "The ferry is back.", 4],
    ["tags are not words", "<p>The <em>ferry</em> is<br/>back.</p>", 4],
    ["script, style, noscript, template and comment contents are skipped",
      "<script>var a = b < c;</script><style>p { x: y }</style><noscript>enable js</noscript><template>t u</template><!-- a b c -->one two", 2],
    ["punctuation alone is not a word", "one – two — three …", 3],
    ["entities: &nbsp; separates, others join", "one&nbsp;two caf&eacute; &amp;", 3],
    ["a stray '<' is text", "a < b and 1 < 2", 5],
    ["an unclosed tag swallows the rest", "one two <p class='x", 2],
    ["an unclosed script swallows the rest", "one <script>two three", 1],
    ["non-Latin scripts", "Паром вернулся после ремонта", 4],
    ["digits count", "42 passengers", 2],
    ["a letter that lower-cases to two units does not shift the markup", "İİ İstanbul <script>alpha beta gamma</script> feribot", 3],
  ])("%s", (_, content, expected) => {
    expect(countWords(content)).toBe(expected);
  });

  it("stops counting at the limit", () => {
    expect(countWords(words(1_000), 10)).toBe(10);
  });
});

describe("needsFullText", () => {
  it.each([
    ["a one-line summary", SUMMARY, true],
    ["an empty body", "", true],
    ["149 words", `<p>${words(149)}</p>`, true],
    ["150 words", `<p>${words(150)}</p>`, false],
    ["a full article", `<div>${words(600)}</div>`, false],
    ["a short text padded with a script", `<p>${words(20)}</p><script>${words(500)}</script>`, true],
  ])("%s → %s", (_, content, expected) => {
    expect(needsFullText({ content })).toBe(expected);
  });

  it("takes the threshold from options", () => {
    expect(needsFullText({ content: words(40) }, { minWords: 30 })).toBe(false);
    expect(needsFullText({ content: words(40) }, { minWords: 50 })).toBe(true);
  });
});

describe("decodeHtml", () => {
  const cafe = (head: string) => Buffer.from(`<html><head>${head}</head><body>caf\u00e9</body></html>`, "latin1");
  it.each([
    ["the HTTP charset", cafe(""), "text/html; charset=windows-1252"],
    ["<meta charset> when HTTP gives none", cafe('<meta charset="windows-1252">'), "text/html"],
    ["<meta http-equiv> when HTTP gives none", cafe('<meta http-equiv="Content-Type" content="text/html; charset=ISO-8859-1">'), null],
  ])("reads %s", (_, body, contentType) => {
    expect(decodeHtml(body, contentType)).toContain("café");
  });

  it("prefers the HTTP charset to <meta>", () => {
    const body = Buffer.from('<meta charset="windows-1252"><p>caf\u00e9</p>', "utf8");
    expect(decodeHtml(body, "text/html; charset=utf-8")).toContain("café");
  });
});

describe("fillFullText", () => {
  const item = (url: string | null, content = SUMMARY, extra: Record<string, unknown> = {}) => ({
    url, content, title: "Ferry returns", contentHash: "h", ...extra,
  });

  it("replaces a summary with the article and leaves everything else alone", async () => {
    const { fetchPage, calls } = pages({ "https://ledger.example/ferry": () => html(ARTICLE) });
    const input = [
      item("https://ledger.example/ferry"),
      item("https://ledger.example/long", `<p>${words(400)}</p>`),
      item(null),
      item("mailto:desk@ledger.example"),
      item("not a url"),
    ];
    const before = structuredClone(input);
    const r = await fillFullText(input, fetchPage);

    expect(calls).toEqual(["https://ledger.example/ferry"]);
    expect(r.counts).toEqual({ attempted: 1, filled: 1, failed: 0, skipped: 0 });
    expect(r.failures).toEqual([]);
    expect(r.items[0]!.content).toContain("resumed sailings on Tuesday");
    expect(r.items[0]!.content).not.toContain("All rights reserved");
    expect(r.items[0]).toMatchObject({ url: "https://ledger.example/ferry", title: "Ferry returns", contentHash: "h" });
    expect(r.items.slice(1)).toEqual(input.slice(1));
    // New objects; the inputs are untouched.
    expect(input).toEqual(before);
    r.items.forEach((out, i) => expect(out).not.toBe(input[i]));
  });

  it("resolves relative links against the final URL, after redirects", async () => {
    const { fetchPage } = pages({
      "https://short.example/x": () => html(ARTICLE, { url: "https://ledger.example/local/2031/03/ferry.html" }),
    });
    const r = await fillFullText([item("https://short.example/x")], fetchPage);
    expect(r.items[0]!.content).toContain('src="https://ledger.example/local/2031/03/images/ferry-dock.jpg"');
  });

  it("decodes the page with its charset", async () => {
    const page = Buffer.from(
      `<html><head><meta charset="windows-1252"></head><body><article>${`<p>Caf\u00e9 ${words(60)}.</p>`.repeat(4)}</article></body></html>`,
      "latin1",
    );
    const { fetchPage } = pages({ "https://a.example/1": () => html(page, { headers: new Headers({ "content-type": "text/html" }) }) });
    const r = await fillFullText([item("https://a.example/1")], fetchPage);
    expect(r.counts.filled).toBe(1);
    expect(r.items[0]!.content).toContain("Café");
  });

  it.each([
    ["fetchPage rejects", () => Promise.reject(new Error("ECONNRESET")), { reason: "fetch_error" }],
    ["a 404", () => html("<p>Not found</p>", { status: 404 }), { reason: "http_status", status: 404 }],
    ["a 500", () => html(ARTICLE, { status: 500 }), { reason: "http_status", status: 500 }],
    ["a PDF", () => html(ARTICLE, { headers: new Headers({ "content-type": "application/pdf" }) }), { reason: "not_html" }],
    ["a page with no article", () => html(INDEX_PAGE), { reason: "no_article" }],
    ["an empty body", () => html(""), { reason: "no_article" }],
    ["a malformed response", () => ({ status: 200 }) as unknown as PageResponse, { reason: "no_article" }],
  ])("keeps the summary and counts a failure when %s", async (_, answer, failure) => {
    const { fetchPage } = pages({ "https://a.example/1": answer, "https://a.example/2": () => html(ARTICLE) });
    const input = [item("https://a.example/1"), item("https://a.example/2")];
    const r = await fillFullText(input, fetchPage);
    expect(r.counts).toEqual({ attempted: 2, filled: 1, failed: 1, skipped: 0 });
    expect(r.failures).toEqual([expect.objectContaining({ url: "https://a.example/1", ...failure })]);
    expect(r.items[0]!.content).toBe(SUMMARY);
    expect(r.items[1]!.content).toContain("resumed sailings");
  });

  it("counts a fetchPage that throws synchronously as a failure", async () => {
    const fetchPage: FetchPage = (url) => {
      if (url.endsWith("/1")) throw new Error("refused by the guard");
      return Promise.resolve(html(ARTICLE));
    };
    const r = await fillFullText([item("https://a.example/1"), item("https://a.example/2")], fetchPage);
    expect(r.counts).toEqual({ attempted: 2, filled: 1, failed: 1, skipped: 0 });
    expect(r.failures).toEqual([{ url: "https://a.example/1", reason: "fetch_error", error: new Error("refused by the guard") }]);
  });

  it("lists failures in item order, whatever order the pages finish in", async () => {
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const fetchPage: FetchPage = async (url) => {
      if (url.endsWith("/0")) for (let i = 0; i < 5; i++) await turn(); // finishes last
      return html("<p>Not found</p>", { status: 404 });
    };
    const r = await fillFullText([0, 1, 2].map((i) => item(`https://a.example/${i}`)), fetchPage);
    expect(r.failures.map((f) => f.url)).toEqual(["https://a.example/0", "https://a.example/1", "https://a.example/2"]);
  });

  it("keeps a summary that is longer than what the page yields", async () => {
    const { fetchPage } = pages({ "https://a.example/1": () => html(ARTICLE) });
    const summary = `<p>${words(600)}</p>`;
    const r = await fillFullText([item("https://a.example/1", summary)], fetchPage, { minWords: 1_000 });
    expect(r.counts).toEqual({ attempted: 1, filled: 0, failed: 1, skipped: 0 });
    expect(r.failures).toEqual([{ url: "https://a.example/1", reason: "not_longer" }]);
    expect(r.items[0]!.content).toBe(summary);
  });

  it("passes extraction options through", async () => {
    const { fetchPage } = pages({ "https://a.example/1": () => html(ARTICLE) });
    const r = await fillFullText([item("https://a.example/1")], fetchPage, { extract: { maxChars: 100 } });
    expect(r.failures).toEqual([expect.objectContaining({ reason: "no_article" })]);
  });

  it.each([
    [1, 10],
    [3, 10],
    [4, 10],
    [8, 5],
  ])("fetches at most %i pages at once (%i pages)", async (concurrency, n) => {
    let inFlight = 0;
    let peak = 0;
    const fetchPage: FetchPage = async () => {
      peak = Math.max(peak, ++inFlight);
      // Yield to the event loop so the other workers get to start: a turn, not a timed sleep.
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return html(ARTICLE);
    };
    const input = Array.from({ length: n }, (_, i) => item(`https://a.example/${i}`));
    const r = await fillFullText(input, fetchPage, { concurrency });
    expect(peak).toBe(Math.min(concurrency, n));
    expect(r.counts.filled).toBe(n);
  });

  it("defaults to 4 at once", async () => {
    let inFlight = 0;
    let peak = 0;
    const fetchPage: FetchPage = async () => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setImmediate(resolve));
      inFlight--;
      return html("<p>short</p>");
    };
    await fillFullText(Array.from({ length: 12 }, (_, i) => item(`https://a.example/${i}`)), fetchPage);
    expect(peak).toBe(4);
  });

  it("fetches at most 20 pages per call by default, in item order, and counts the rest as skipped", async () => {
    const urls = Array.from({ length: 30 }, (_, i) => `https://a.example/${i}`);
    const { fetchPage, calls } = pages(Object.fromEntries(urls.map((u) => [u, () => html(ARTICLE)])));
    const input = urls.map((u) => item(u));
    const r = await fillFullText(input, fetchPage);
    expect(calls.sort()).toEqual(urls.slice(0, 20).sort());
    expect(r.counts).toEqual({ attempted: 20, filled: 20, failed: 0, skipped: 10 });
    expect(r.items.slice(20).map((it) => it.content)).toEqual(Array(10).fill(SUMMARY));
  });

  it("counts the cap in pages that need fetching, not in items", async () => {
    const { fetchPage, calls } = pages({
      "https://a.example/2": () => html(ARTICLE),
      "https://a.example/3": () => html(ARTICLE),
    });
    const input = [
      item("https://a.example/0", `<p>${words(300)}</p>`),
      item(null),
      item("https://a.example/2"),
      item("https://a.example/3"),
    ];
    const r = await fillFullText(input, fetchPage, { maxPages: 1 });
    expect(calls).toEqual(["https://a.example/2"]);
    expect(r.counts).toEqual({ attempted: 1, filled: 1, failed: 0, skipped: 1 });
  });

  it("fetches nothing with maxPages 0 or no items", async () => {
    const { fetchPage, calls } = pages({});
    expect((await fillFullText([item("https://a.example/1")], fetchPage, { maxPages: 0 })).counts)
      .toEqual({ attempted: 0, filled: 0, failed: 0, skipped: 1 });
    expect(await fillFullText([], fetchPage)).toEqual({ items: [], counts: { attempted: 0, filled: 0, failed: 0, skipped: 0 }, failures: [] });
    expect(calls).toEqual([]);
  });
});
