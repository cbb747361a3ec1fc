/** OPML 2.0 import and export of feed lists. Pure. */
import { Parser } from "htmlparser2";

export interface OpmlFeed {
  url: string;
  title: string | null;
}

/**
 * Every <outline xmlUrl> in the document, nested folders included, each URL once (its
 * first outline wins). The title is the outline's title, else its text; a title that
 * is only the URL again (as exporters write for feeds without one) counts as none.
 */
export function parseOpml(xml: string): OpmlFeed[] {
  const feeds: OpmlFeed[] = [];
  const seen = new Set<string>();
  let sawOpml = false;
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        if (name.toLowerCase() === "opml") sawOpml = true;
        if (name.toLowerCase() !== "outline") return;
        const get = (k: string) => Object.entries(attrs).find(([a]) => a.toLowerCase() === k)?.[1]?.trim();
        const url = get("xmlurl");
        if (!url || seen.has(url)) return;
        seen.add(url);
        const title = [get("title"), get("text")].find((t) => t && t !== url) ?? null;
        feeds.push({ url, title });
      },
    },
    { xmlMode: true, decodeEntities: true },
  );
  parser.write(xml);
  parser.end();
  if (!sawOpml) throw new Error("not an OPML document (no <opml> element)");
  return feeds;
}

/**
 * An OPML file's text: UTF-8 (with or without a byte order mark), UTF-16 by its byte
 * order mark, or the encoding its XML declaration names (e.g. ISO-8859-1, windows-1252).
 */
export function decodeOpml(bytes: Uint8Array): string {
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder("utf-16be").decode(bytes.subarray(2));
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder("utf-16le").decode(bytes.subarray(2));
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return new TextDecoder("utf-8").decode(bytes.subarray(3));
  const head = new TextDecoder("latin1").decode(bytes.subarray(0, 200));
  const declared = /^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head)?.[1];
  let decoder;
  try {
    decoder = new TextDecoder(declared ?? "utf-8");
  } catch {
    throw new Error(`unknown encoding '${declared}' in the XML declaration`);
  }
  return decoder.decode(bytes);
}

/**
 * Attribute text: markup escaped, tabs and line breaks as character references (a parser
 * would turn them into spaces), and characters XML 1.0 cannot carry at all dropped.
 */
const esc = (s: string) =>
  s
    // eslint-disable-next-line no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, "")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/\t/g, "&#9;")
    .replace(/\n/g, "&#10;")
    .replace(/\r/g, "&#13;");

/** OPML 2.0: one outline per feed; `text` is required, so a feed without a title gets its URL there (and no title). */
export function renderOpml(feeds: readonly OpmlFeed[], title = "newsfeed subscriptions"): string {
  const lines = feeds.map((f) => {
    const t = f.title === null ? "" : ` title="${esc(f.title)}"`;
    return `    <outline type="rss" text="${esc(f.title ?? f.url)}"${t} xmlUrl="${esc(f.url)}"/>`;
  });
  return `<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>${esc(title)}</title></head>
  <body>
${lines.join("\n")}
  </body>
</opml>
`;
}
