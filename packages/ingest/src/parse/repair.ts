import { IngestError } from "../errors.ts";
import { CP1252_HIGH } from "./charset.ts";
import { joinBase } from "./base.ts";
import { htmlEntity, internalEntities, isXmlChar, unsafeDoctype } from "./entities.ts";

/**
 * One linear pass that turns a feed's text into XML that a strict parser reads
 * the way a lenient reader would, and marks what rss-parser cannot see:
 *
 * - junk before the document (whitespace or a server warning before `<?xml`),
 *   the XML declaration, processing instructions, comments and the DOCTYPE go;
 *   text outside the root element goes;
 * - `&` that starts no reference becomes `&amp;`; HTML named references become
 *   numeric ones; `&#X41;` and `&#150;` are read as HTML reads them; unknown
 *   names are kept as text (`&amp;name;`); references to invalid characters and
 *   invalid characters themselves are dropped; C1 controls are read as the
 *   windows-1252 characters they were meant to be; CDATA becomes escaped text;
 * - attributes get quotes, values and `=`; a stray `<` is text; end tags close
 *   the elements left open inside them; stray end tags go;
 * - a document that ends early is cut back before its unfinished item or entry
 *   and the open elements are closed (a partial item is never read);
 * - internal DTD entities with plain text values are expanded; a DOCTYPE that
 *   declares an external entity or an entity naming another, or expansion past
 *   ENTITY_BUDGET characters, is refused (`unsafe_xml`): nothing is read or
 *   fetched; nesting deeper than MAX_DEPTH is refused (`parse`);
 * - text elements (titles, descriptions, content) that hold markup become text:
 *   titles keep their text (an Atom `type="xhtml"` title reads as plain text),
 *   content keeps its markup, escaped;
 * - `<rss>` without `<channel>` gets one, `<rdf:RDF>` without one an empty one;
 *   Atom links without attributes get one (rss-parser dereferences `$`);
 * - item and entry dates are renamed `nf:*` (rss-parser throws on a bad Atom
 *   date and reads zone-less ones in the host's zone; we read the raw text);
 * - the xml:base in scope is added to each channel, feed, item and entry as an
 *   `<nf:base>` child.
 */
export interface Repaired {
  xml: string;
  root: string | null;
}

export const MAX_DEPTH = 256;
const ENTITY_BUDGET = 1_000_000;
/** Characters XML forbids, and the C1 controls, which in feeds are windows-1252 bytes decoded as Latin-1. */
const ODD_CHARS = /[\x00-\x08\x0B\x0C\x0E-\x1F\x80-\x9F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const fixChar = (c: string): string => {
  const cp = c.charCodeAt(0);
  return cp >= 0x80 && cp <= 0x9f ? String.fromCharCode(CP1252_HIGH[cp - 0x80]!) : "";
};
const NAME = /[A-Za-z_\u00C0-\uFFEF][-\w.:\u00B7\u00C0-\uFFEF]*/y;
const ATTR_NAME = /[^\s=/>"'<]+/y;
const UNQUOTED = /[^\s>]*/y;
const VALID_ATTR_NAME = /^[A-Za-z_:\u00C0-\uFFEF][-\w.:\u00B7\u00C0-\uFFEF]*$/;
/** `&` that starts no reference, and references other than the five XML ones. */
const BARE_AMP = /&(?!#\d|#[xX][0-9a-fA-F]|[A-Za-z][A-Za-z0-9]{0,31};)/g;
const REFERENCE = /&(?!(?:amp|lt|gt|quot|apos);)(?:#(\d{1,8});?|#[xX]([0-9a-fA-F]{1,8});?|([A-Za-z][A-Za-z0-9]{0,31});)/g;
/** HTML void elements: inside text elements they never take an end tag. */
const VOID = new Set(["br", "hr", "img", "input", "meta", "area", "base", "col", "embed", "param", "source", "track", "wbr"]);
const ITEMS = new Set(["item", "entry"]);
const BASED = new Set(["item", "entry", "channel", "feed"]);
const TEXT_ELEMENTS = new Set(["title", "description", "content:encoded", "summary", "content", "subtitle", "dc:title", "dc:description"]);
const TITLES = new Set(["title", "dc:title"]);
const RENAMES: Record<string, Record<string, string>> = {
  entry: { published: "nf:published", updated: "nf:updated" },
  item: { pubDate: "nf:pubDate", "dc:date": "nf:dcdate" },
};

export const escapeText = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const escapeAttr = (s: string): string => (/[<"]/.test(s) ? s.replace(/</g, "&lt;").replace(/"/g, "&quot;") : s);

interface Capture {
  start: number;
  /** The text seen, for titles (which keep only their text). */
  text: string[] | null;
  markup: boolean;
}
interface Frame {
  /** The element's name in the source, and as written out (dates are renamed). */
  name: string;
  tag: string;
  at: number;
  contentAt: number;
  base: string | null;
  capture: Capture | null;
}

export function repairXml(input: string): Repaired {
  const text = ODD_CHARS.test(input) ? input.replace(ODD_CHARS, fixChar) : input;
  ODD_CHARS.lastIndex = 0;
  const n = text.length;
  const out: string[] = [];
  const stack: Frame[] = [];
  const entities = new Map<string, string>();
  let budget = ENTITY_BUDGET;
  let root: string | null = null;
  let rootDone = false;
  let hasChannel = false;
  let capture: Capture | null = null;
  // indexOf remembering its last answer per needle: repeated searches for a
  // needle that is far away or absent stay linear on hostile input.
  const memo = new Map<string, { from: number; at: number }>();
  const find = (needle: string, from: number): number => {
    let m = memo.get(needle);
    if (m && from >= m.from && (m.at < 0 || from <= m.at)) return m.at;
    if (!m) memo.set(needle, (m = { from, at: -1 }));
    m.from = from;
    m.at = text.indexOf(needle, from);
    return m.at;
  };

  const fixRefs = (raw: string): string =>
    raw.indexOf("&") < 0
      ? raw
      : raw.replace(BARE_AMP, "&amp;").replace(REFERENCE, (_m, dec?: string, hex?: string, name?: string) => {
          if (name === undefined) {
            let cp = parseInt((dec ?? hex)!, dec !== undefined ? 10 : 16);
            if (cp >= 0x80 && cp <= 0x9f) cp = CP1252_HIGH[cp - 0x80]!;
            return isXmlChar(cp) ? `&#${cp};` : "";
          }
          const declared = entities.get(name);
          if (declared !== undefined) {
            budget -= declared.length;
            if (budget < 0) {
              throw new IngestError("unsafe_xml", `entity expansion over ${ENTITY_BUDGET.toLocaleString("en-US")} characters: refused`);
            }
            return escapeText(declared);
          }
          const cp = htmlEntity(name);
          return cp !== undefined ? `&#${cp};` : `&amp;${name};`;
        });

  const emitText = (escaped: string) => {
    if (!root || rootDone || stack.length === 0) return;
    out.push(escaped);
    capture?.text?.push(escaped);
  };

  /** `raw` is the tag as written when it needs no repair: it is copied rather than rebuilt. */
  const open = (name: string, attrs: Map<string, string>, selfClosing: boolean, raw: string | null) => {
    if (rootDone) return;
    const parent = stack[stack.length - 1];
    if (!parent) {
      if (root) return;
      root = name;
      if (attrs.size === 0) {
        attrs.set("nf", "");
        raw = null;
      }
    }
    if (capture) {
      // Markup inside a text element: kept (and escaped when it closes); past
      // MAX_DEPTH only its text is kept.
      capture.markup = true;
      if (stack.length >= MAX_DEPTH) return;
      const empty = selfClosing || VOID.has(name.toLowerCase());
      out.push(raw !== null && empty === selfClosing ? raw : startTag(name, attrs, empty));
      if (!empty) stack.push({ name, tag: name, at: out.length - 1, contentAt: out.length, base: null, capture: null });
      return;
    }
    if (stack.length >= MAX_DEPTH) throw new IngestError("parse", `not a readable feed: elements nested deeper than ${MAX_DEPTH}`);
    const xmlBase = attrs.get("xml:base");
    const base = xmlBase === undefined ? (parent?.base ?? null) : joinBase(parent?.base ?? null, xmlBase);
    const renamed = (parent && RENAMES[parent.name]?.[name]) ?? name;
    if (parent?.name === root && name === "channel") hasChannel = true;
    if (name === "link" && attrs.size === 0 && root === "feed") {
      attrs.set("nf", "");
      raw = null;
    }
    const at = out.length;
    const injected = base !== null && BASED.has(name) ? `<nf:base>${escapeText(base)}</nf:base>` : "";
    const asIs = raw !== null && renamed === name;
    if (selfClosing && !injected) {
      out.push(asIs ? raw! : startTag(renamed, attrs, true));
      return;
    }
    out.push((asIs && !selfClosing ? raw! : startTag(renamed, attrs, false)) + injected);
    const frame: Frame = { name, tag: renamed, at, contentAt: out.length, base, capture: null };
    if (selfClosing) return finish(frame);
    if (TEXT_ELEMENTS.has(name)) {
      const type = (attrs.get("type") ?? "").toLowerCase();
      const markup = type === "xhtml" || type.endsWith("xhtml+xml");
      capture = frame.capture = { start: out.length, text: TITLES.has(name) ? [] : null, markup };
    }
    stack.push(frame);
  };

  const finish = (frame: Frame) => {
    const c = frame.capture;
    if (c) {
      capture = null;
      if (c.markup) {
        const body = c.text ? c.text.join("") : escapeText(out.slice(c.start).join(""));
        out.length = c.start;
        out.push(body);
      }
    }
    const isRoot = stack.length === 0;
    if (isRoot && root === "rss" && !hasChannel) {
      out.splice(frame.contentAt, 0, "<channel>");
      out.push("</channel>");
    } else if (isRoot && /(^|:)RDF$/.test(root ?? "") && !hasChannel) {
      out.splice(frame.contentAt, 0, "<channel></channel>");
    }
    out.push(`</${frame.tag}>`);
    if (isRoot) rootDone = true;
  };

  const close = (name: string) => {
    let k = stack.length - 1;
    while (k >= 0 && stack[k]!.name !== name) k--;
    if (k < 0) return;
    while (stack.length > k) finish(stack.pop()!);
  };

  const readDoctype = (from: number): number => {
    // The internal subset may hold `>` inside declarations; it ends at `]` then `>`.
    const bracket = find("[", from);
    const gt = find(">", from);
    if (gt < 0) return -1;
    if (bracket < 0 || bracket > gt) return gt + 1;
    const endSubset = find("]", bracket);
    if (endSubset < 0) return -1;
    const subset = text.slice(bracket + 1, endSubset);
    const unsafe = unsafeDoctype(subset);
    if (unsafe) throw new IngestError("unsafe_xml", `the DOCTYPE ${unsafe}: refused, nothing read or fetched`);
    for (const [name, value] of internalEntities(subset)) entities.set(name, value);
    const close = find(">", endSubset);
    return close < 0 ? -1 : close + 1;
  };

  let i = startOf(text);
  while (i < n) {
    const lt = text.indexOf("<", i);
    const end = lt < 0 ? n : lt;
    if (end > i && root && !rootDone) {
      const raw = text.slice(i, end);
      emitText(raw.indexOf(">") < 0 ? fixRefs(raw) : fixRefs(raw).replace(/>/g, "&gt;"));
    }
    if (lt < 0) break;
    i = lt;
    const next = text.charCodeAt(i + 1);
    if (next === 0x21 /* ! */) {
      if (text.startsWith("<!--", i)) {
        const e = find("-->", i + 4);
        if (e < 0) break;
        i = e + 3;
      } else if (text.startsWith("<![CDATA[", i)) {
        const e = find("]]>", i + 9);
        if (e < 0) break;
        emitText(escapeText(text.slice(i + 9, e)));
        i = e + 3;
      } else if (/^<!DOCTYPE/i.test(text.slice(i, i + 9))) {
        const e = readDoctype(i);
        if (e < 0) break;
        i = e;
      } else {
        const e = find(">", i);
        if (e < 0) break;
        i = e + 1;
      }
      continue;
    }
    if (next === 0x3f /* ? */) {
      const e = find("?>", i + 2);
      if (e < 0) break;
      i = e + 2;
      continue;
    }
    const isEnd = next === 0x2f; /* / */
    NAME.lastIndex = i + (isEnd ? 2 : 1);
    const name = NAME.exec(text)?.[0];
    if (!name) {
      emitText("&lt;");
      i++;
      continue;
    }
    let p = NAME.lastIndex;
    if (isEnd) {
      const gt = find(">", p);
      const lt2 = text.indexOf("<", p);
      i = gt >= 0 && (lt2 < 0 || gt < lt2) ? gt + 1 : lt2 < 0 ? n : lt2;
      close(name);
      continue;
    }
    const attrs = new Map<string, string>();
    let selfClosing = false;
    let closed = false;
    let clean = true;
    while (p < n) {
      const ch = text[p]!;
      if (ch === ">") { p++; closed = true; break; }
      if (ch === "/" && text[p + 1] === ">") { p += 2; selfClosing = closed = true; break; }
      if (ch === "<") { clean = false; closed = true; break; }
      if (ch <= " ") { p++; continue; }
      ATTR_NAME.lastIndex = p;
      const attr = ATTR_NAME.exec(text)?.[0];
      if (!attr) { p++; clean = false; continue; }
      p = ATTR_NAME.lastIndex;
      while (p < n && text.charCodeAt(p) <= 32) p++;
      let value = "";
      if (text[p] === "=") {
        p++;
        while (p < n && text.charCodeAt(p) <= 32) p++;
        const q = text[p];
        if (q === '"' || q === "'") {
          const e = find(q, p + 1);
          const stop = find(">", p + 1);
          if (e >= 0 && (stop < 0 || e < stop || text.lastIndexOf("<", e) < p)) {
            value = text.slice(p + 1, e);
            p = e + 1;
          } else {
            value = text.slice(p + 1, stop < 0 ? n : stop);
            p = stop < 0 ? n : stop;
            clean = false;
          }
        } else {
          clean = false;
          UNQUOTED.lastIndex = p;
          value = UNQUOTED.exec(text)![0];
          if (value.endsWith("/") && text[p + value.length] === ">") value = value.slice(0, -1);
          p += value.length;
        }
      } else clean = false;
      const fixed = escapeAttr(fixRefs(value));
      if (VALID_ATTR_NAME.test(attr) && !attrs.has(attr)) attrs.set(attr, fixed);
      else clean = false;
      if (fixed !== value) clean = false;
    }
    if (!closed) break;
    const raw = clean ? text.slice(i, p) : null;
    i = p;
    open(name, attrs, selfClosing, raw);
  }
  if (stack.length > 0) {
    // The document ended inside its root: drop an unfinished item, close the rest.
    for (let k = 0; k < stack.length && !stack[k]!.capture; k++) {
      if (!ITEMS.has(stack[k]!.name)) continue;
      out.length = stack[k]!.at;
      stack.length = k;
      capture = null;
    }
    while (stack.length > 0) finish(stack.pop()!);
  }
  return { xml: out.join(""), root };
}

function startTag(name: string, attrs: Map<string, string>, selfClosing: boolean): string {
  let s = `<${name}`;
  for (const [k, v] of attrs) s += ` ${k}="${v}"`;
  return s + (selfClosing ? "/>" : ">");
}

/** Where the document starts: an XML declaration or a feed root near the top, past any junk. */
function startOf(text: string): number {
  const head = text.slice(0, 65536);
  const m = /<\?xml[\s?]|<!DOCTYPE\s|<(?:rss|feed|[\w-]+:RDF|RDF)[\s>/]/i.exec(head);
  return m ? m.index : 0;
}
