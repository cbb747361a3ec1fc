/**
 * The bundled sample: four fictional outlets republishing the wire stories of
 * ../../sample/wire.json with edits outlets make (new or upper-cased headline,
 * dateline or agency credit added, newsletter box and footer, lead repeated as
 * a standfirst, tracking parameters on links), in four feed formats. Used by `newsfeed start` when no feeds are configured,
 * and by the end-to-end test.
 */
import { readFileSync } from "node:fs";

export interface WireStory {
  id: string;
  agency: string;
  published: string;
  headline: string;
  dateline: string;
  paragraphs: string[];
  altHeadlines: string[];
}

export const WIRE: WireStory[] = JSON.parse(
  readFileSync(new URL("../../sample/wire.json", import.meta.url), "utf8"),
) as WireStory[];

export type FeedFormat = "rss2" | "atom" | "rdf" | "jsonfeed";

export interface Outlet {
  slug: string;
  name: string;
  format: FeedFormat;
  /** Indexes into WIRE of the stories this outlet carries. */
  carries: number[];
  /** How the outlet edits a story: minutes after the wire, and the edited copy. */
  edit: (s: WireStory, i: number) => { title: string; paragraphs: string[]; delayMin: number };
}

const esc = (s: string) =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

export const OUTLETS: Outlet[] = [
  {
    slug: "harbor-ledger",
    name: "The Harbor Ledger",
    format: "rss2",
    carries: [0, 1, 3, 5, 7],
    edit: (s) => ({
      title: s.altHeadlines[0] ?? s.headline,
      paragraphs: [`${s.dateline} ${s.paragraphs[0]}`, ...s.paragraphs.slice(1)],
      delayMin: 12,
    }),
  },
  {
    slug: "valley-courier",
    name: "Valley Courier",
    format: "atom",
    carries: [0, 1, 2, 5, 7],
    edit: (s) => ({
      title: s.altHeadlines[1] ?? s.headline,
      paragraphs: s.paragraphs,
      delayMin: 40,
    }),
  },
  {
    slug: "metro-daily",
    name: "Metro Daily",
    format: "rdf",
    carries: [0, 1, 3, 4, 7],
    edit: (s) => ({
      title: s.headline.toUpperCase(),
      paragraphs: [`(${s.agency}) ${s.paragraphs[0]}`, ...s.paragraphs.slice(1)],
      delayMin: 95,
    }),
  },
  {
    slug: "coastal-post",
    name: "Coastal Post",
    format: "jsonfeed",
    carries: [0, 2, 3, 6, 7],
    edit: (s) => ({
      title: `${s.headline} | Coastal Post`,
      paragraphs: [s.paragraphs[0]!, ...s.paragraphs],
      delayMin: 180,
    }),
  },
];

interface Entry {
  guid: string;
  link: string;
  title: string;
  html: string;
  published: Date;
}

function entries(outlet: Outlet, baseUrl: string): Entry[] {
  return outlet.carries.map((i) => {
    const s = WIRE[i]!;
    const e = outlet.edit(s, i);
    return {
      guid: `${baseUrl}/${outlet.slug}/${s.id}`,
      link: `${baseUrl}/${outlet.slug}/${s.id}?utm_source=rss&utm_medium=feed`,
      title: e.title,
      html: e.paragraphs.map((p) => `<p>${esc(p)}</p>`).join("\n"),
      published: new Date(Date.parse(s.published) + e.delayMin * 60_000),
    };
  });
}

/** The feed document of one outlet, in its format. */
export function renderFeed(outlet: Outlet, baseUrl: string): { body: string; contentType: string } {
  const es = entries(outlet, baseUrl);
  const home = `${baseUrl}/${outlet.slug}`;
  switch (outlet.format) {
    case "rss2":
      return {
        contentType: "application/rss+xml; charset=utf-8",
        body: `<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel><title>${esc(outlet.name)}</title><link>${home}</link><description>News</description>
${es.map((e) => `<item><title>${esc(e.title)}</title><link>${esc(e.link)}</link><guid isPermaLink="true">${esc(e.guid)}</guid>
<pubDate>${e.published.toUTCString()}</pubDate><description>${esc(e.title)}</description>
<content:encoded><![CDATA[<div class="article">${e.html}<aside class="newsletter"><p>Sign up for the Ledger's morning briefing.</p></aside></div><footer><a href="/subscribe">Subscribe</a></footer>]]></content:encoded></item>`).join("\n")}
</channel></rss>`,
      };
    case "atom":
      return {
        contentType: "application/atom+xml; charset=utf-8",
        body: `<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>${esc(outlet.name)}</title><link href="${home}"/><id>${home}</id>
<updated>${es[es.length - 1]!.published.toISOString()}</updated>
${es.map((e) => `<entry><title>${esc(e.title)}</title><link href="${esc(e.link)}"/><id>${esc(e.guid)}</id>
<published>${e.published.toISOString()}</published><updated>${e.published.toISOString()}</updated>
<content type="html">${esc(e.html)}</content></entry>`).join("\n")}
</feed>`,
      };
    case "rdf":
      return {
        contentType: "application/rdf+xml",
        body: `<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="${home}"><title>${esc(outlet.name)}</title><link>${home}</link><description>News</description></channel>
${es.map((e) => `<item rdf:about="${esc(e.guid)}"><title>${esc(e.title)}</title><link>${esc(e.link)}</link>
<dc:date>${e.published.toISOString()}</dc:date><description>${esc(e.html)}</description></item>`).join("\n")}
</rdf:RDF>`,
      };
    case "jsonfeed":
      return {
        contentType: "application/feed+json",
        body: JSON.stringify(
          {
            version: "https://jsonfeed.org/version/1.1",
            title: outlet.name,
            home_page_url: home,
            items: es.map((e) => ({
              id: e.guid, url: e.link, title: e.title, content_html: e.html, date_published: e.published.toISOString(),
            })),
          },
          null,
          1,
        ),
      };
  }
}

/** The sample's gold partition: outlet slug + story id → wire story id. */
export function expectedClusters(): Map<string, string[]> {
  const clusters = new Map<string, string[]>();
  for (const o of OUTLETS) {
    for (const i of o.carries) {
      const id = WIRE[i]!.id;
      clusters.set(id, [...(clusters.get(id) ?? []), `${o.slug}/${id}`]);
    }
  }
  return clusters;
}
