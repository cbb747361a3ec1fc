/**
 * Main-text extraction from an article page: linkedom builds the DOM, Mozilla
 * Readability picks the article. Pure (no I/O) and total: any input, however
 * hostile, gives an article or null, never an exception.
 */
import { Readability } from "@mozilla/readability";
import { parseHTML } from "linkedom";

export interface ExtractOptions {
  /** Pages longer than this (UTF-16 code units) are refused unparsed. Default 2,000,000. */
  maxChars?: number;
  /**
   * Pages with more elements than this are refused before Readability runs; pages with
   * more than three times as many "<" outside scripts and styles, before parsing. Default 10,000.
   */
  maxElements?: number;
  /** Pages whose elements nest deeper than this are refused before Readability runs. Default 100. */
  maxDepth?: number;
  /**
   * Pages whose elements' depths add up to more than this are refused before Readability
   * runs: its cost grows with elements × depth. Default 200,000.
   */
  maxDepthSum?: number;
  /** Extracted text shorter than this (characters, whitespace collapsed) is "nothing found". Default 500. */
  minTextLength?: number;
}

export interface ExtractedArticle {
  /** The article's title as Readability reads it (title tag, JSON-LD, og:title, h1), or null. */
  title: string | null;
  /** The article's content as HTML, links and image sources made absolute. */
  html: string;
  /** The article's text, runs of whitespace collapsed to one space. */
  text: string;
  /** `text.length`. */
  length: number;
}

/**
 * Defaults. Readability over linkedom costs about elements × depth (it re-reads
 * the text of every candidate's subtree, up to four passes), so the shape of
 * the tree is capped, not only its size. The caps are set well above what an
 * ordinary article page needs (a depth sum of 200,000 is 10,000 elements at an
 * average depth of 20); a page over them only keeps its summary. 500
 * characters, about 80 words, is Readability's own `charThreshold`: less is an
 * error page, a consent wall or a stub.
 */
export const EXTRACT_DEFAULTS: Required<ExtractOptions> = {
  maxChars: 2_000_000,
  maxElements: 10_000,
  maxDepth: 100,
  maxDepthSum: 200_000,
  minTextLength: 500,
};

/** Extracted text with more than this share of control or replacement characters is binary, not prose. */
const MAX_JUNK_SHARE = 0.01;

/** Elements that belong in <head> when a page omits the <head>/<body> tags. */
const HEAD_TAGS = new Set(["TITLE", "META", "LINK", "BASE", "STYLE", "SCRIPT", "NOSCRIPT"]);
const HTML_TAG = /<html[\s>]/i;
const LEADING_DOCTYPE = /^\s*<!doctype[^>]*>/i;

/**
 * Extracts the main text of an article page fetched from `url` (the final URL,
 * after redirects; relative links resolve against it, or against the page's
 * <base>). Returns null, without throwing, when `url` is not an absolute
 * http(s) URL; when the page is over a cap (characters, elements, depth, depth
 * sum); when Readability finds less than `minTextLength` characters of text;
 * when that text is more than 1% control or replacement characters (a binary
 * body); or when parsing fails in any other way. The HTML is Readability's
 * output, not sanitized: whoever displays it sanitizes it, as for feed content.
 */
export function extractArticle(html: string, url: string, opts: ExtractOptions = {}): ExtractedArticle | null {
  const o = { ...EXTRACT_DEFAULTS, ...opts };
  if (typeof html !== "string" || html.length === 0 || html.length > o.maxChars) return null;
  const pageUrl = httpUrl(url);
  if (!pageUrl) return null;
  try {
    // linkedom makes a node per "<", even a stray one: bound the parse before it starts.
    if (markupCount(html, 3 * o.maxElements) > 3 * o.maxElements) return null;
    const document = buildDocument(html, pageUrl);
    if (!document || !withinShape(document.documentElement!, o)) return null;
    // Readability's own maxElemsToParse counts getElementsByTagName("*"), which linkedom leaves empty.
    const article = new Readability(document as never).parse();
    if (!article?.content) return null;
    const text = (article.textContent ?? "").replace(/\s+/g, " ").trim();
    if (text.length < o.minTextLength || junkShare(text) > MAX_JUNK_SHARE) return null;
    const title = article.title?.trim() || null;
    return { title, html: article.content, text, length: text.length };
  } catch {
    // Stack overflow in a pathological tree, or a linkedom gap Readability runs into.
    return null;
  }
}

/**
 * "<" characters outside script and style contents, counted up to just past
 * `limit`: an upper bound on the tags (so elements) linkedom would build.
 */
function markupCount(html: string, limit: number): number {
  // A–Z only: a full toLowerCase can change the length ("İ" becomes two units).
  const lower = html.replace(/[A-Z]+/g, (m) => m.toLowerCase());
  let n = 0;
  let i = lower.indexOf("<");
  while (i >= 0 && n <= limit) {
    n++;
    const raw = lower.startsWith("<script", i) ? "</script" : lower.startsWith("<style", i) ? "</style" : null;
    const from = raw ? lower.indexOf(raw, i + 1) : i + 1;
    if (from < 0) break;
    i = lower.indexOf("<", raw ? from + 1 : from);
    if (raw) n++;
  }
  return n;
}

/** Share of C0 controls (tab and newlines aside) and U+FFFD in the text. */
function junkShare(text: string): number {
  let junk = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) || c === 0xfffd || c === 0x7f) junk++;
  }
  return text.length ? junk / text.length : 0;
}

/** True when the tree is within the element, depth and depth-sum caps; one iterative walk. */
function withinShape(root: DomNode, o: Required<ExtractOptions>): boolean {
  let elements = 0;
  let depthSum = 0;
  let depth = 1;
  let node: DomNode | null = root.firstChild;
  while (node) {
    if (node.nodeType === 1) {
      depthSum += depth;
      if (++elements > o.maxElements || depth > o.maxDepth || depthSum > o.maxDepthSum) return false;
    }
    if (node.firstChild) {
      node = node.firstChild;
      depth++;
      continue;
    }
    while (node && node !== root && !node.nextSibling) {
      node = node.parentNode;
      depth--;
    }
    node = node && node !== root ? node.nextSibling : null;
  }
  return true;
}

function httpUrl(s: string): URL | null {
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:" ? u : null;
  } catch {
    return null;
  }
}

/**
 * The few DOM members used here. linkedom types its documents with the DOM lib's
 * interfaces, which this project does not load (`lib` is ES only).
 */
interface DomNode {
  readonly tagName?: string;
  readonly nodeType: number;
  readonly firstChild: DomNode | null;
  readonly nextSibling: DomNode | null;
  readonly parentNode: DomNode | null;
}
interface DomElement extends DomNode {
  readonly tagName: string;
  readonly childNodes: Iterable<DomNode>;
  appendChild(node: DomNode): unknown;
  insertBefore(node: DomNode, ref: DomNode | null): unknown;
  prepend(node: DomNode): void;
  after(node: DomNode): void;
  remove(): void;
  getAttribute(name: string): string | null;
  setAttribute(name: string, value: string): void;
}
interface DomDocument {
  readonly documentElement: DomElement | null;
  createElement(tag: string): DomElement;
  querySelectorAll(selector: string): Iterable<DomElement>;
}

/**
 * Parses the page into a document with one <head> and one <body>, and a base URL
 * that is absolute, which Readability uses to make links absolute.
 *
 * linkedom does not build the implied <html>, <head> and <body> of the HTML
 * parsing algorithm: a page without them would leave its content outside the
 * body, where Readability does not look. They are supplied here, and content
 * found outside them is moved in.
 */
function buildDocument(html: string, pageUrl: URL): DomDocument | null {
  const src = HTML_TAG.test(html) ? html : `<html>${html.replace(LEADING_DOCTYPE, "")}</html>`;
  // `location` is what linkedom's baseURI falls back to when the page has no <base>.
  const document = parseHTML(src, { location: pageUrl }).document as unknown as DomDocument;
  const root = document.documentElement;
  if (!root || root.tagName !== "HTML") return null;
  const kids = [...root.childNodes];
  const head = (kids.find((n) => n.tagName === "HEAD") as DomElement | undefined) ?? document.createElement("head");
  const body = (kids.find((n) => n.tagName === "BODY") as DomElement | undefined) ?? document.createElement("body");
  const bodyStart = body.firstChild;
  let afterBody = false;
  for (const node of kids) {
    if (node === body) afterBody = true;
    if (node === head || node === body) continue;
    if (!afterBody && HEAD_TAGS.has(node.tagName ?? "")) head.appendChild(node);
    else if (!afterBody) body.insertBefore(node, bodyStart);
    else body.appendChild(node);
  }
  root.prepend(head);
  head.after(body);
  fixBase(document, pageUrl);
  return document;
}

/**
 * linkedom reports the first <base>'s href as written, relative or not, where a
 * browser resolves it against the page URL. The first <base href> is made
 * absolute and any other <base> removed, so Readability resolves links as a
 * browser would; a base that is not http(s) is removed too (the page URL serves).
 */
function fixBase(document: DomDocument, pageUrl: URL): void {
  let fixed = false;
  for (const base of [...document.querySelectorAll("base")]) {
    const href = base.getAttribute("href");
    const resolved = fixed || href === null ? null : resolveHttp(href, pageUrl);
    if (resolved) {
      base.setAttribute("href", resolved);
      fixed = true;
    } else {
      base.remove();
    }
  }
}

function resolveHttp(href: string, base: URL): string | null {
  try {
    return httpUrl(new URL(href, base).href)?.href ?? null;
  } catch {
    return null;
  }
}
