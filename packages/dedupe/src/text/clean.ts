/**
 * Cleaning before fingerprinting: HTML → paragraphs (parsed, not tag-stripped),
 * Unicode and entity normalization, datelines, bylines and credits out, and a
 * paragraph repeated on the same page counted once. Pure functions, no I/O.
 */
import { Parser } from "htmlparser2";
import { decodeHTML } from "entities";

/** Elements whose content is never article text (the headline too: it is kept apart). */
const SKIP = new Set([
  "script", "style", "noscript", "template", "nav", "footer", "header", "aside", "form", "button",
  "select", "iframe", "svg", "canvas", "figure", "figcaption", "h1", "time", "title", "head", "menu",
]);
/** Elements that end a paragraph. */
const BLOCK = new Set([
  "p", "div", "br", "li", "ul", "ol", "h2", "h3", "h4", "h5", "h6", "section", "article",
  "blockquote", "pre", "table", "tr", "td", "th", "dd", "dt", "hr", "main", "body",
]);
/** class or id values that mark page furniture, in the manner of Readability's "unlikely candidates". */
const CHROME_ATTR =
  /(^|[\s_-])(share|sharing|social|related|newsletter|subscribe|subscription|promo|advert|ad|ads|adslot|ad-slot|sponsor|comment|comments|cookie|paywall|sidebar|breadcrumbs?|byline|caption|footer|header|nav|menu|popup|modal|banner|signup|tags)([\s_-]|$)/i;

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * HTML when it has a real HTML tag; "<TXC>"-style ticker symbols in plain wire text
 * are text, not markup.
 */
const HTML_TAG =
  /<(?:\/?(?:p|div|br|span|a|article|html|body|head|b|i|u|em|strong|ul|ol|li|h[1-6]|img|table|tbody|tr|td|th|section|main|figure|blockquote|script|style|meta|link|header|footer|nav|aside|time|pre|hr|iframe|noscript|form)\b[^>]*|!doctype[^>]*|!--)>/i;
const looksLikeHtml = (s: string): boolean => s.includes("<") && HTML_TAG.test(s);

/**
 * Converts HTML to paragraphs. When the page has an <article>, only its content
 * counts; non-content elements and elements marked as page furniture are dropped.
 */
export function htmlToText(page: string): string {
  // Only the article counts when there is one: parse just that part of the page
  // (most of a page's bytes are head, scripts and furniture).
  const start = page.search(/<article[\s>]/i);
  const end = start < 0 ? -1 : Math.max(page.lastIndexOf("</article>"), page.lastIndexOf("</ARTICLE>"));
  const html = start >= 0 && end > start ? page.slice(start, end + "</article>".length) : page;
  const hasArticle = start >= 0;
  const out: string[] = [];
  let skipDepth = 0;
  let articleDepth = 0;
  const stack: boolean[] = []; // per open element: did it start a skip?
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        if (name === "article") articleDepth++;
        const skip = SKIP.has(name) || CHROME_ATTR.test(`${attrs.class ?? ""} ${attrs.id ?? ""}`);
        stack.push(skip);
        if (skip) skipDepth++;
        if (BLOCK.has(name)) out.push("\n");
      },
      ontext(text) {
        if (skipDepth === 0 && (!hasArticle || articleDepth > 0)) out.push(text);
      },
      onclosetag(name) {
        if (stack.pop()) skipDepth--;
        if (name === "article") articleDepth = Math.max(0, articleDepth - 1);
        if (BLOCK.has(name)) out.push("\n");
      },
    },
    { decodeEntities: true, lowerCaseTags: true, recognizeSelfClosing: true },
  );
  parser.write(html);
  parser.end();
  return out.join("");
}

/** Straight quotes, plain dashes, no zero-width characters, NFKC. */
export function normalizeUnicode(s: string): string {
  // Every character below changes only outside ASCII (the backtick aside): most text skips it all.
  if (!NON_ASCII.test(s)) return s.includes("`") ? s.replace(/`/g, "'") : s;
  return s
    .normalize("NFKC")
    .replace(/[\u2018\u2019\u201A\u201B\u2032\u00B4`]/g, "'")
    .replace(/[\u201C\u201D\u201E\u201F\u2033\u00AB\u00BB]/g, '"')
    .replace(/[\u2010-\u2015\u2212]/g, "-")
    .replace(/[\u200B-\u200D\u2060\uFEFF\u00AD]/g, "");
}

/**
 * A dateline or agency credit opening a paragraph: "CITY, Nov 26 (Agency) -",
 * "CITY, Feb 26 -", "CITY (Agency) -", "(Agency) ". General patterns, not a list of agencies.
 */
const DATELINE =
  /^(?:[A-Z][A-Z.'\- ]{1,40}(?:,\s*[A-Za-z.]{2,12}(?:\s+\d{1,2})?)*\s*(?:\([A-Z][^()]{1,30}\)\s*)?[-:]+\s+|\([A-Z][A-Za-z.&' -]{1,30}\)\s*(?:[-:]+\s*)?)/;
/** A byline or credit paragraph: "By Jane Doe", "Source: Agency", "Reporting by …". */
const BYLINE = /^(?:by|reporting by|writing by|editing by|source|sources|photo|image|credit)\b[:\s][^.!?]{0,60}$/i;

/**
 * The non-empty lines of `text` with whitespace folded to single spaces and trimmed,
 * in one pass; a line is copied through a regex only when it needs folding.
 */
function foldedLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  let dirty = false;
  let prevSpace = true; // at a line start, a space is leading whitespace
  for (let i = 0; i <= text.length; i++) {
    const c = i < text.length ? text.charCodeAt(i) : 10;
    if (c === 10) {
      if (i > start) {
        const line = text.slice(start, i);
        const folded = dirty || prevSpace ? line.replace(/\s+/g, " ").trim() : line;
        if (folded) out.push(folded);
      }
      start = i + 1;
      dirty = false;
      prevSpace = true;
    } else if (c === 32) {
      if (prevSpace) dirty = true;
      prevSpace = true;
    } else if (c < 32 || c === 0xa0 || (c >= 0x2000 && c <= 0x200a) || c === 0x3000 || c === 0x1680 || c === 0x2028 || c === 0x2029 || c === 0x202f || c === 0x205f) {
      dirty = true;
      prevSpace = true;
    } else {
      prevSpace = false;
    }
  }
  return out;
}
/** Cheap pre-test: a dateline starts with a capital letter or a parenthesis. */
const DATELINE_START = /^(?:[A-Z][A-Z.'\- ]{1,40}[,(\-:]|\()/;

/** The paragraph without a leading dateline or agency credit. */
export function stripDateline(paragraph: string): string {
  return paragraph.replace(DATELINE, "");
}

/**
 * Body paragraphs, cleaned: HTML parsed when present, entities decoded, Unicode
 * normalized, whitespace folded, datelines and bylines out, and a paragraph
 * repeated on the page (also behind a short label such as a "Summary:" standfirst)
 * kept once.
 */
export function cleanParagraphs(input: string): string[] {
  // Entities are decoded once more after parsing: feeds often double-escape them.
  const raw = looksLikeHtml(input) ? htmlToText(input) : input;
  const text = normalizeUnicode(raw.includes("&") ? decodeHTML(raw) : raw);
  const paragraphs: string[] = [];
  for (const folded of foldedLines(text)) {
    const p = DATELINE_START.test(folded) ? stripDateline(folded) : folded;
    if (!p || BYLINE.test(p)) continue;
    paragraphs.push(p);
  }
  // Repeats on one page keep their case: compare paragraphs as they are.
  const keys = paragraphs;
  const all = new Set(keys);
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = 0; i < paragraphs.length; i++) {
    const k = keys[i]!;
    if (seen.has(k)) continue;
    // "Standfirst: <a later paragraph>": the same paragraph behind a label of a few words.
    const colon = k.indexOf(": ");
    if (colon > 0 && colon < 30 && all.has(k.slice(colon + 2))) continue;
    seen.add(k);
    out.push(paragraphs[i]!);
  }
  return out;
}

/** cleanParagraphs joined one paragraph a line. */
export function cleanText(input: string): string {
  return cleanParagraphs(input).join("\n");
}

/**
 * Lower-cased word tokens (letters and digits); thousands separators dropped from
 * numbers, and a number glued to its unit split from it.
 */
export function words(text: string): string[] {
  const raw = text.toLowerCase().match(/[\p{L}\p{N}]+(?:['.,][\p{L}\p{N}]+)*/gu) ?? [];
  const tokens: string[] = [];
  for (let t of raw) {
    if (t.includes(",") && /^\d{1,3}(,\d{3})+(\.\d+)?$/.test(t)) t = t.replace(/,/g, "");
    // A number glued to its unit ("4.3bn", "98m") is two tokens.
    const unit = /^(\d[\d.,']*)(\p{L}.*)$/u.exec(t);
    if (unit) tokens.push(unit[1]!, unit[2]!);
    else tokens.push(t);
  }
  return tokens;
}
