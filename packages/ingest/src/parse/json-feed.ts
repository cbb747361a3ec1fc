import { IngestError } from "../errors.ts";
import type { ParsedFeed, RawItem } from "./parse-feed.ts";

/** NUL cannot be stored in Postgres text: it is removed from every string a feed gives. */
export const stripNul = (s: string): string => (s.includes("\u0000") ? s.replace(/\u0000/g, "") : s);

/** Text of a JSON value or of an xml2js node (`{ _: text, $: attrs }`), trimmed, NUL removed; null when empty. */
export const textOf = (v: unknown): string | null => {
  if (typeof v === "string") return stripNul(v).trim() || null;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  if (Array.isArray(v)) return textOf(v[0]);
  if (v && typeof v === "object" && "_" in v) return textOf((v as { _: unknown })._);
  return null;
};

/**
 * A JSON Feed string field: a string (trimmed, NUL removed), else null. Values
 * of the wrong type (objects, arrays, booleans, numbers) are ignored rather
 * than coerced; `id` alone may also be a number (JSON Feed 1.0 generators).
 */
const str = (v: unknown): string | null => (typeof v === "string" ? stripNul(v).trim() || null : null);
const idOf = (v: unknown): string | null => (typeof v === "number" && Number.isFinite(v) ? String(v) : str(v));

const records = (v: unknown): Record<string, unknown>[] =>
  (Array.isArray(v) ? v : v && typeof v === "object" ? [v] : []).filter(
    (x): x is Record<string, unknown> => !!x && typeof x === "object" && !Array.isArray(x),
  );

/**
 * JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1), and Dave Winer's
 * RSS-in-JSON (`{ "rss": { "channel": { "item": [...] } } }`) as scripting.com
 * serves it. rss-parser reads no JSON. Raw control characters inside strings,
 * which some generators emit, are escaped before a second attempt; a
 * truncated document keeps its complete items (cutTruncatedJson).
 */
export function parseJsonFeed(text: string): ParsedFeed {
  const doc = parseJson(text.replace(/^\uFEFF/, ""));
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new IngestError("parse", "invalid JSON feed: not an object");
  const feed = doc as Record<string, unknown>;
  const rss = (feed.rss as Record<string, unknown> | undefined)?.channel;
  if (rss && typeof rss === "object" && !Array.isArray(rss)) return rssInJson(rss as Record<string, unknown>);
  if (!Array.isArray(feed.items)) throw new IngestError("parse", "invalid JSON feed: no items array");
  return {
    title: str(feed.title),
    link: str(feed.home_page_url),
    items: records(feed.items).map(
      (it): RawItem => ({
        guid: idOf(it.id),
        link: str(it.url) ?? str(it.external_url),
        title: str(it.title) ?? "",
        content: str(it.content_html) ?? str(it.content_text) ?? str(it.summary) ?? "",
        date: str(it.date_published) ?? str(it.date_modified),
      }),
    ),
  };
}

function rssInJson(channel: Record<string, unknown>): ParsedFeed {
  return {
    title: textOf(channel.title),
    link: textOf(channel.link),
    items: records(channel.item).map(
      (it): RawItem => ({
        guid: textOf(it.guid),
        link: textOf(it.link),
        title: textOf(it.title) ?? "",
        content: textOf(it.description) ?? "",
        date: textOf(it.pubDate),
      }),
    ),
  };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (first) {
    // Raw control characters inside strings, then a truncated tail: each repair is tried once.
    const escaped = text.replace(/"(?:[^"\\]|\\.)*"/gs, (s) =>
      s.replace(/[\x00-\x1f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`),
    );
    for (const attempt of [escaped, cutTruncatedJson(escaped)]) {
      try {
        if (attempt !== null && attempt !== text) return JSON.parse(attempt);
      } catch {
        // next repair
      }
    }
    throw new IngestError("parse", `invalid JSON feed: ${(first as Error).message}`, { cause: first });
  }
}

/**
 * JSON that ends inside its root: cut back to the last complete element of the
 * `items` (or `item`) array, dropping the unfinished one, and close what is
 * open. Null when the text is not truncated JSON.
 */
export function cutTruncatedJson(text: string): string | null {
  interface Open { close: "}" | "]"; key: string | null; lastEnd: number }
  const stack: Open[] = [];
  let key: string | null = null;
  let expectKey = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    const top = stack[stack.length - 1];
    if (c === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      if (j >= text.length) break; // ends inside a string
      if (expectKey) key = text.slice(i + 1, j);
      else if (top) top.lastEnd = j + 1;
      i = j;
    } else if (c === "{" || c === "[") {
      stack.push({ close: c === "{" ? "}" : "]", key: top?.close === "}" ? key : null, lastEnd: i + 1 });
      expectKey = c === "{";
    } else if (c === "}" || c === "]") {
      stack.pop();
      const parent = stack[stack.length - 1];
      if (!parent) return null; // complete: not a truncation
      parent.lastEnd = i + 1;
      expectKey = false;
    } else if (c === ",") {
      expectKey = top?.close === "}";
    } else if (c === ":") {
      expectKey = false;
    } else if (/[-0-9tfn]/.test(c) && top) {
      const m = /^(?:-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|true|false|null)/.exec(text.slice(i, i + 64));
      if (m && i + m[0].length < text.length) {
        i += m[0].length - 1;
        top.lastEnd = i + 1;
      }
    }
  }
  if (stack.length === 0) return null;
  const k = stack.findIndex((o) => o.close === "]" && (o.key === "items" || o.key === "item"));
  const cutAt = k >= 0 ? k : 0;
  const kept = text.slice(0, stack[cutAt]!.lastEnd).replace(/,\s*$/, "");
  return kept + stack.slice(0, cutAt + 1).reverse().map((o) => o.close).join("");
}
