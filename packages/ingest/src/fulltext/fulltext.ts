/**
 * Full text for feeds that carry only a summary: fetch each item's page with
 * the injected fetcher (the same HTTP rules as feeds), extract the article, and
 * put it in place of the summary so that dedupe compares bodies. Opt-in per
 * feed; the caller decides which feeds and which items to pass.
 */
import { decodeBody } from "../parse/decode.ts";
import { extractArticle, type ExtractOptions } from "./extract.ts";

/** One fetched page: the shape of `conditionalGet`'s result. */
export interface PageResponse {
  status: number;
  /** The final URL, after redirects: the base for the page's relative links. */
  url: string;
  body: Buffer;
  headers: Headers;
}

export type FetchPage = (url: string) => Promise<PageResponse>;

export interface FullTextOptions {
  /** An item whose content has fewer words than this is a summary. Default 150. */
  minWords?: number;
  /** Pages fetched at once. Default 4. */
  concurrency?: number;
  /** Pages fetched per call (one fetch of one feed); items past it keep their summary. Default 20. */
  maxPages?: number;
  extract?: ExtractOptions;
}

/**
 * Defaults. 150 words sits between a summary (a sentence or a teaser paragraph)
 * and the body of a news story (several paragraphs). A judgment, not a survey;
 * erring is cheap either way: a short story taken for a summary costs one
 * fetch and keeps its text unless the page has more, and a long teaser taken
 * for a body still gives dedupe more text than a one-liner.
 */
export const FULL_TEXT_DEFAULTS: Required<Omit<FullTextOptions, "extract">> = {
  minWords: 150,
  concurrency: 4,
  maxPages: 20,
};

export type FullTextFailure =
  | "fetch_error" // fetchPage threw: network, timeout, too large, refused by the SSRF guard …
  | "http_status" // a status other than 2xx
  | "not_html" // a Content-Type other than HTML (a PDF, an image, JSON …)
  | "no_article" // extractArticle found nothing substantial
  | "not_longer"; // the extracted text has no more words than the summary

export interface FullTextCounts {
  /** Pages fetched (at most maxPages). */
  attempted: number;
  /** Items whose content was replaced by the extracted article. */
  filled: number;
  /** Pages fetched whose item kept its summary: attempted = filled + failed. */
  failed: number;
  /** Items that needed full text but were past maxPages. */
  skipped: number;
}

export interface FullTextResult<T> {
  /** The items in input order: new objects; the inputs are not modified. */
  items: T[];
  counts: FullTextCounts;
  failures: Array<{ url: string; reason: FullTextFailure; status?: number; error?: unknown }>;
}

/**
 * True when the item's content looks like a summary: fewer than `minWords`
 * words once tags, scripts, styles and comments are removed. Words are
 * whitespace-separated runs holding a letter or a digit, so text in scripts
 * written without spaces (Chinese, Japanese, Thai) counts low and is fetched.
 */
export function needsFullText(item: { content: string }, opts: Pick<FullTextOptions, "minWords"> = {}): boolean {
  const minWords = opts.minWords ?? FULL_TEXT_DEFAULTS.minWords;
  return countWords(item.content, minWords) < minWords;
}

/**
 * Fills in full text. For each item that needs it (see `needsFullText`) and
 * whose `url` is an absolute http(s) URL, in input order up to `maxPages`
 * pages, at most `concurrency` at once: fetch the page, decode it, extract the
 * article and, when the article has more words than the summary, replace the
 * item's content with the article's HTML. Every other field, `contentHash`
 * included, is left as it was. A page that fails in any way leaves its item's
 * summary in place and is counted and listed in `failures` (for the caller to
 * log); this function does not reject.
 */
export async function fillFullText<T extends { url: string | null; content: string }>(
  items: readonly T[],
  fetchPage: FetchPage,
  opts: FullTextOptions = {},
): Promise<FullTextResult<T>> {
  const minWords = opts.minWords ?? FULL_TEXT_DEFAULTS.minWords;
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? FULL_TEXT_DEFAULTS.concurrency));
  const maxPages = Math.max(0, Math.floor(opts.maxPages ?? FULL_TEXT_DEFAULTS.maxPages));
  const out = items.map((item) => ({ ...item }));
  const wanted: Array<{ index: number; url: string; summaryWords: number }> = [];
  out.forEach((item, index) => {
    const url = httpUrl(item.url);
    if (!url) return;
    const summaryWords = countWords(item.content, minWords);
    if (summaryWords < minWords) wanted.push({ index, url, summaryWords });
  });
  const picked = wanted.slice(0, maxPages);
  const counts: FullTextCounts = { attempted: picked.length, filled: 0, failed: 0, skipped: wanted.length - picked.length };
  const failures: Array<FullTextResult<T>["failures"][number] & { index: number }> = [];

  await forEachLimited(picked, concurrency, async ({ index, url, summaryWords }) => {
    const r = await fetchArticle(url, fetchPage, opts.extract);
    if ("html" in r && countWords(r.html, summaryWords + 1) > summaryWords) {
      out[index] = { ...out[index]!, content: r.html };
      counts.filled++;
      return;
    }
    failures.push({ index, url, ...("html" in r ? { reason: "not_longer" as const } : r) });
    counts.failed++;
  });
  // In item order, whatever order the pages finished in.
  failures.sort((a, b) => a.index - b.index);
  return { items: out, counts, failures: failures.map(({ index: _, ...f }) => f) };
}

type Fetched = { html: string } | { reason: FullTextFailure; status?: number; error?: unknown };

/** One page to an article or a classified failure; never rejects. */
async function fetchArticle(url: string, fetchPage: FetchPage, extract: ExtractOptions | undefined): Promise<Fetched> {
  let res: PageResponse;
  try {
    res = await fetchPage(url);
  } catch (error) {
    return { reason: "fetch_error", error };
  }
  try {
    if (res.status < 200 || res.status >= 300) return { reason: "http_status", status: res.status };
    const contentType = res.headers.get("content-type");
    if (contentType && !/html/i.test(contentType)) return { reason: "not_html", status: res.status };
    const article = extractArticle(decodeHtml(res.body, contentType), res.url || url, extract);
    return article ? { html: article.html } : { reason: "no_article", status: res.status };
  } catch (error) {
    // Only a response that breaks the PageResponse shape gets here: extractArticle does not throw.
    return { reason: "no_article", error };
  }
}

/**
 * Decodes an HTML page with `decodeBody`, the page's own `<meta charset>` (or
 * `http-equiv` content type) in the first 1,024 bytes standing in for a
 * missing HTTP charset, as in the HTML encoding-sniffing algorithm.
 */
export function decodeHtml(body: Buffer, contentType: string | null): string {
  if (/charset\s*=/i.test(contentType ?? "")) return decodeBody(body, contentType);
  const head = body.subarray(0, 1024).toString("latin1");
  const meta = /<meta\s[^>]*?charset\s*=\s*["']?\s*([\w.:-]+)/i.exec(head)?.[1];
  return decodeBody(body, meta ? `text/html; charset=${meta}` : contentType);
}

/**
 * Words in an HTML or text fragment, counted up to `limit`: tags, comments and
 * the contents of script, style, noscript and template elements are skipped.
 * One left-to-right pass with forward-only searches, so linear in the input,
 * however malformed.
 */
export function countWords(content: string, limit = Infinity): number {
  const lower = asciiLower(content);
  let words = 0;
  let inWord = false;
  let counted = false;
  const endWord = () => {
    if (inWord && counted) words++;
    inWord = false;
    counted = false;
  };
  let i = 0;
  while (i < content.length && words < limit) {
    const c = content.charCodeAt(i);
    if (c === 0x3c /* < */ && isTagStart(content.charCodeAt(i + 1))) {
      endWord();
      i = skipMarkup(lower, i);
      continue;
    }
    if (c === 0x26 /* & */) {
      const m = /^&(?:#\d{1,7}|#x[\da-f]{1,6}|[a-z][a-z\d]{1,31});/i.exec(content.slice(i, i + 40));
      if (m) {
        // An entity is a character; "&nbsp;" separates words, other entities join them.
        if (/^&(nbsp|#160|#xa0);$/i.test(m[0])) endWord();
        else if (inWord) counted = true;
        i += m[0].length;
        continue;
      }
    }
    if (isSpace(c)) endWord();
    else {
      inWord = true;
      if (!counted && isLetterOrDigit(content, i, c)) counted = true;
    }
    i++;
  }
  endWord();
  return Math.min(words, limit);
}

const RAW_TEXT = ["script", "style", "noscript", "template"];

/** Index just past the tag, comment or raw-text element starting at `i`; the end when it never closes. */
function skipMarkup(lower: string, i: number): number {
  if (lower.startsWith("<!--", i)) return after(lower, "-->", i + 4);
  for (const name of RAW_TEXT) {
    if (lower.startsWith(name, i + 1) && !isNameChar(lower.charCodeAt(i + 1 + name.length))) {
      return after(lower, `</${name}`, i + 1 + name.length);
    }
  }
  return after(lower, ">", i + 1);
}

function after(s: string, needle: string, from: number): number {
  const j = s.indexOf(needle, from);
  if (j < 0) return s.length;
  if (needle === ">" || needle === "-->") return j + needle.length;
  return after(s, ">", j + needle.length); // a closing tag: skip to its ">"
}

/** Lower-cases A–Z only, so that indices into the result are indices into the input ("İ" lower-cases to two units). */
function asciiLower(s: string): string {
  return s.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

function isTagStart(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2f || c === 0x21 || c === 0x3f; // a-z A-Z / ! ?
}

function isLetterOrDigit(s: string, i: number, c: number): boolean {
  if (c < 0x80) return (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39);
  return /[\p{L}\p{N}]/u.test(String.fromCodePoint(s.codePointAt(i)!));
}

function isNameChar(c: number): boolean {
  return (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d; // a-z 0-9 -
}

function isSpace(c: number): boolean {
  return c === 0x20 || (c >= 0x09 && c <= 0x0d) || c === 0xa0 || c === 0x3000 || (c >= 0x2000 && c <= 0x200b);
}

function httpUrl(s: string | null): string | null {
  if (!s) return null;
  try {
    const u = new URL(s);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch {
    return null;
  }
}

/** Runs `fn` over `inputs`, at most `limit` at once; `fn` must not reject. */
async function forEachLimited<I>(inputs: readonly I[], limit: number, fn: (input: I) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < inputs.length) await fn(inputs[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, inputs.length) }, worker));
}
