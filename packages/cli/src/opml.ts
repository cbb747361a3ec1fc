/** OPML 2.0 import and export of feed lists. Pure. */
import { Parser } from "htmlparser2";

export interface OpmlFeed {
  url: string;
  title: string | null;
}

/** Every <outline xmlUrl> in the document, nested folders included. */
export function parseOpml(xml: string): OpmlFeed[] {
  const feeds: OpmlFeed[] = [];
  let sawOpml = false;
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        if (name.toLowerCase() === "opml") sawOpml = true;
        if (name.toLowerCase() !== "outline") return;
        const get = (k: string) => Object.entries(attrs).find(([a]) => a.toLowerCase() === k)?.[1]?.trim();
        const url = get("xmlurl");
        if (url) feeds.push({ url, title: get("title") || get("text") || null });
      },
    },
    { xmlMode: true, decodeEntities: true },
  );
  parser.write(xml);
  parser.end();
  if (!sawOpml) throw new Error("not an OPML document (no <opml> element)");
  return feeds;
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export function renderOpml(feeds: readonly OpmlFeed[], title = "newsfeed subscriptions"): string {
  const lines = feeds.map((f) => {
    const t = esc(f.title ?? f.url);
    return `    <outline type="rss" text="${t}" title="${t}" xmlUrl="${esc(f.url)}"/>`;
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
