/**
 * Cleaning before fingerprinting: HTML → text (parsed, not tag-stripped),
 * Unicode and entity normalization, and a paragraph repeated on the same
 * page counted once. Pure functions, no I/O.
 */
import { Parser } from "htmlparser2";
import { decodeHTML } from "entities";

/** Elements whose content is never article text. */
const SKIP = new Set([
  "script", "style", "noscript", "template", "nav", "footer", "header", "aside", "form",
  "button", "select", "iframe", "svg", "canvas", "figure", "figcaption",
]);
/** Elements that end a paragraph. */
const BLOCK = new Set([
  "p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article",
  "blockquote", "pre", "table", "tr", "td", "th", "dd", "dt", "hr", "main",
]);

const looksLikeHtml = (s: string): boolean => /<\/?[a-z][\s\S]*?>/i.test(s);

/** Converts HTML to text with one paragraph per line; non-content elements are dropped. */
export function htmlToText(html: string): string {
  const out: string[] = [];
  let skipDepth = 0;
  const parser = new Parser(
    {
      onopentag(name) {
        if (SKIP.has(name)) skipDepth++;
        else if (BLOCK.has(name)) out.push("\n");
      },
      ontext(text) {
        if (skipDepth === 0) out.push(text);
      },
      onclosetag(name) {
        if (SKIP.has(name)) skipDepth = Math.max(0, skipDepth - 1);
        else if (BLOCK.has(name)) out.push("\n");
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.write(html);
  parser.end();
  return out.join("");
}

/** Straight quotes, plain dashes, no zero-width characters, NFKC. */
export function normalizeUnicode(s: string): string {
  return s
    .normalize("NFKC")
    .replace(/[\u2018\u2019\u201A\u201B\u2032\u00B4`]/g, "'")
    .replace(/[\u201C\u201D\u201E\u201F\u2033\u00AB\u00BB]/g, '"')
    .replace(/[\u2010-\u2015\u2212]/g, "-")
    .replace(/[\u200B-\u200D\u2060\uFEFF\u00AD]/g, "");
}

/**
 * Text ready for display and fingerprinting: HTML parsed when present, entities
 * decoded, Unicode normalized, whitespace folded, one paragraph per line, and a
 * paragraph repeated on the same page kept once.
 */
export function cleanText(input: string): string {
  const text = looksLikeHtml(input) ? htmlToText(input) : decodeHTML(input);
  const seen = new Set<string>();
  const paragraphs: string[] = [];
  for (const raw of normalizeUnicode(text).split(/\n+/)) {
    const p = stripDateline(raw.replace(/\s+/g, " ").trim());
    if (!p) continue;
    const key = p.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    paragraphs.push(p);
  }
  return paragraphs.join("\n");
}

/**
 * A dateline or agency credit opening a paragraph: "CITY, Nov 26 (Agency) -",
 * "CITY (Agency) -", "(Agency) ". General patterns, not a list of agencies.
 */
const DATELINE =
  /^(?:[A-Z][A-Z.'\- ]{1,40}(?:,\s*[A-Z][A-Za-z.]*\.?(?:\s+\d{1,2})?)?\s*)?\([A-Z][A-Za-z.&' -]{1,30}\)\s*(?:[-:]+\s*)?/;

/** The paragraph without a leading dateline or agency credit. */
export function stripDateline(paragraph: string): string {
  return paragraph.replace(DATELINE, "");
}

/** Lower-cased word tokens (letters and digits) of cleaned text. */
export function words(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+(?:['.,][\p{L}\p{N}]+)*/gu) ?? [];
}
