import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { extractArticle } from "./extract.ts";

const fixture = (name: string) => readFileSync(new URL(`./testdata/${name}`, import.meta.url), "utf8");
const ARTICLE = fixture("article.html");
const INDEX_PAGE = fixture("index-page.html");
const PAGE_URL = "https://ledger.example/local/2031/03/ferry.html";

/** About 90 words of fictional prose per paragraph. */
const PARA =
  "<p>The allotment society in Fenwick Vale voted on Saturday to share its new well with the primary school next door, " +
  "after a dry summer left both the vegetable beds and the school garden short of water. Members said the pump would " +
  "run on the society's solar panel and that pupils could draw water on weekday afternoons. The school's head teacher " +
  "thanked the growers and promised that the class that grew the largest marrow would present it at the autumn show, " +
  "as the society's oldest member had asked in the meeting.</p>";

describe("extractArticle: a realistic article page", () => {
  const r = extractArticle(ARTICLE, PAGE_URL);

  it("finds the article and its title", () => {
    expect(r).not.toBeNull();
    expect(r!.title).toBe("Ferry to Skarvik Island returns after winter repairs");
    expect(r!.length).toBe(r!.text.length);
    expect(r!.text).not.toMatch(/\s{2}/);
  });

  it.each([
    ["first paragraph", "resumed sailings on Tuesday after eleven weeks in dry dock"],
    ["a quotation", "It was never built for pushchairs and wheelchairs."],
    ["inline markup", "Morning Tern"],
    ["last paragraph", "public meeting on the future of the crossing"],
  ])("keeps the %s", (_, phrase) => {
    expect(r!.text).toContain(phrase);
  });

  it.each([
    ["navigation", "Opinion"],
    ["cookie banner", "We use cookies"],
    ["related stories", "Coast road bridge closed"],
    ["comments", "My mother missed two appointments"],
    ["comment form", "Post comment"],
    ["newsletter box", "Get the Ledger in your inbox"],
    ["most-read box", "Storm warning for Thursday"],
    ["footer", "All rights reserved"],
    ["script", "__ads"],
    ["style", ".promo"],
  ])("drops the %s", (_, phrase) => {
    expect(r!.text).not.toContain(phrase);
    expect(r!.html).not.toContain(phrase);
  });

  it.each([
    ["root-relative link", 'href="https://ledger.example/harbour/timetable"'],
    ["dot-dot link", 'href="https://ledger.example/local/2031/2031/02/ferry-repairs-delayed.html"'],
    ["relative image", 'src="https://ledger.example/local/2031/03/images/ferry-dock.jpg"'],
  ])("makes the %s absolute against the page URL", (_, attr) => {
    expect(r!.html).toContain(attr);
  });
});

describe("extractArticle: <base>", () => {
  const page = (head: string) =>
    `<!doctype html><html><head><title>Well</title>${head}</head><body><article>${PARA.repeat(3)}` +
    `<p>See <a href="notes/well.html">the notes</a> and <a href="#minutes">the minutes</a>.</p></article></body></html>`;

  it.each([
    ["no base: the page URL", "", "https://vale.example/news/notes/well.html"],
    ["an absolute base", '<base href="https://cdn.vale.example/archive/">', "https://cdn.vale.example/archive/notes/well.html"],
    ["a relative base, resolved against the page URL", '<base href="/archive/2031/">', "https://vale.example/archive/2031/notes/well.html"],
    ["a javascript: base, ignored", '<base href="javascript:alert(1)">', "https://vale.example/news/notes/well.html"],
    ["a base without href, ignored", '<base target="_blank">', "https://vale.example/news/notes/well.html"],
  ])("resolves links with %s", (_, head, expected) => {
    const r = extractArticle(page(head), "https://vale.example/news/well.html");
    expect(r?.html).toContain(`href="${expected}"`);
  });
});

describe("extractArticle: pages without the usual structure", () => {
  it.each([
    ["a bare fragment", PARA.repeat(3)],
    ["no <html>, <head> or <body> tags", `<!doctype html><title>Well shared</title>${PARA.repeat(3)}`],
    ["<html> without <body>", `<html><head><title>Well shared</title></head>${PARA.repeat(3)}</html>`],
    ["content before <body>", `<html><head><title>Well shared</title></head><div>${PARA}</div><body>${PARA.repeat(2)}</body></html>`],
    ["upper-case tags", `<HTML><HEAD><TITLE>Well shared</TITLE></HEAD><BODY>${PARA.repeat(3).toUpperCase()}</BODY></HTML>`],
  ])("reads %s", (_, html) => {
    const r = extractArticle(html, "https://vale.example/news/well.html");
    expect(r).not.toBeNull();
    expect(r!.text.toLowerCase()).toContain("the allotment society in fenwick vale");
  });

  it("keeps content found before <body>, in order", () => {
    const early = "<p>Early paragraph about the well, placed before the body tag by a careless template.</p>";
    const html = `<html><head><title>Well</title></head><div>${early}</div><body><div>${PARA.repeat(2)}</div></body></html>`;
    const r = extractArticle(html, "https://vale.example/news/well.html");
    expect(r?.text).toMatch(/^Early paragraph about the well.*The allotment society/);
  });

  it("reads the title from <title> when the page omits <head>", () => {
    const r = extractArticle(`<!doctype html><title>Well shared</title>${PARA.repeat(3)}`, "https://vale.example/a");
    expect(r?.title).toBe("Well shared");
  });
});

describe("extractArticle: nothing substantial", () => {
  it.each([
    ["an index page of links", INDEX_PAGE],
    ["a consent wall", `<html><body><div class="consent"><p>We value your privacy. Accept cookies to continue.</p><button>Accept</button></div></body></html>`],
    ["one short paragraph", `<html><body><article><p>The well is open.</p></article></body></html>`],
    ["an empty document", "<html><head></head><body></body></html>"],
    ["only scripts", `<html><body><script>${"var a = 1;".repeat(500)}</script></body></html>`],
  ])("returns null for %s", (_, html) => {
    expect(extractArticle(html, PAGE_URL)).toBeNull();
  });

  it("returns null below a raised minTextLength and an article at the default", () => {
    const html = `<html><body><article>${PARA.repeat(2)}</article></body></html>`;
    expect(extractArticle(html, PAGE_URL)).not.toBeNull();
    expect(extractArticle(html, PAGE_URL, { minTextLength: 5_000 })).toBeNull();
  });
});

describe("extractArticle: hostile input never throws and stays bounded", () => {
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7919 + 13) % 256));
  const article = `<html><body><article>${PARA.repeat(3)}</article></body></html>`;
  it.each([
    ["an empty string", "", PAGE_URL],
    ["plain garbage", "\u0000\u0001 <<<>>> &&&; <!-- <![CDATA[ ]]> </ </>", PAGE_URL],
    ["random bytes read as Latin-1", bytes(200_000).toString("latin1"), PAGE_URL],
    ["random bytes read as UTF-8", bytes(200_000).toString("utf8"), PAGE_URL],
    ["1.9 million '<'", "<".repeat(1_900_000), PAGE_URL],
    ["100,000 nested <div>", `${"<div>".repeat(100_000)}${PARA}${"</div>".repeat(100_000)}`, PAGE_URL],
    ["150 nested <div> (over maxDepth)", `<html><body>${"<div>".repeat(150)}${PARA.repeat(3)}${"</div>".repeat(150)}</body></html>`, PAGE_URL],
    ["16,000 unclosed inline tags", `${"<p><b><i><span>".repeat(4_000)}${PARA}`, PAGE_URL],
    ["12,000 elements (over maxElements)", `<html><body>${"<p>x</p>".repeat(12_000)}${PARA.repeat(3)}</body></html>`, PAGE_URL],
    ["a page over maxChars", `<html><body><article>${PARA.repeat(4_500)}</article></body></html>`, PAGE_URL],
    ["an unclosed comment", `<html><body><!-- ${PARA.repeat(3)}`, PAGE_URL],
    ["an unclosed script", `<html><body><script>${PARA.repeat(3)}`, PAGE_URL],
    ["a relative page URL", article, "/news/well.html"],
    ["a non-http page URL", article, "file:///etc/passwd"],
    ["an unparsable page URL", article, "http://[::1"],
  ])("returns null for %s", (_, html, url) => {
    const started = performance.now();
    expect(extractArticle(html, url)).toBeNull();
    // Each of these is refused before Readability runs (or fails fast): milliseconds, not seconds.
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("keeps scripts and event handlers out of the text", () => {
    const html = `<html><body><article>${PARA.repeat(2)}<script>if (a<b) { stolen = document.cookie }</script>` +
      `<p onclick="steal()">${PARA.slice(3)}</article></body></html>`;
    const r = extractArticle(html, PAGE_URL);
    expect(r).not.toBeNull();
    expect(r!.text).not.toContain("document.cookie");
    expect(r!.html).not.toContain("<script");
  });
});
