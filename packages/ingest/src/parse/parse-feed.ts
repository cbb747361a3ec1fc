import Parser from "rss-parser";
import { IngestError } from "../errors.ts";

/** A feed entry as read, before normalization. */
export interface RawItem {
  guid: string | null;
  link: string | null;
  title: string;
  content: string;
  /** The date text as given (RFC 822, ISO 8601, …), or null. */
  date: string | null;
}

export interface ParsedFeed {
  title: string | null;
  link: string | null;
  items: RawItem[];
}

type RssItem = Record<string, unknown>;
const parser = new Parser<Record<string, unknown>, RssItem>({
  customFields: { item: ["content:encoded", "description", "id", "updated", "published"] },
});

const str = (v: unknown): string | null => {
  if (typeof v === "string") return v.trim() || null;
  if (typeof v === "number") return String(v);
  if (v && typeof v === "object" && "_" in v && typeof (v as { _: unknown })._ === "string") {
    return ((v as { _: string })._).trim() || null; // xml2js text node with attributes
  }
  return null;
};

/** Parses RSS 0.9x/1.0/2.0, Atom and JSON Feed text. Throws IngestError("parse"). */
export async function parseFeed(text: string): Promise<ParsedFeed> {
  const trimmed = text.replace(/^\uFEFF/, "").trimStart();
  if (trimmed.startsWith("{")) return parseJsonFeed(trimmed);
  let out: Parser.Output<RssItem>;
  try {
    out = await parser.parseString(trimmed);
  } catch (cause) {
    throw new IngestError("parse", `not a readable feed: ${(cause as Error).message.split("\n")[0]}`, { cause });
  }
  return {
    title: str(out.title),
    link: str(out.link),
    items: (out.items ?? []).map((it) => ({
      guid: str(it.guid) ?? str(it.id),
      link: str(it.link),
      title: str(it.title) ?? "",
      content: str(it["content:encoded"]) ?? str(it.content) ?? str(it.summary) ?? str(it.description) ?? "",
      date: str(it.isoDate) ?? str(it.pubDate) ?? str(it.published) ?? str(it.updated),
    })),
  };
}

/** JSON Feed 1.0/1.1 (rss-parser has no JSON support). */
export function parseJsonFeed(text: string): ParsedFeed {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (cause) {
    throw new IngestError("parse", `invalid JSON feed: ${(cause as Error).message}`, { cause });
  }
  if (!doc || typeof doc !== "object" || !Array.isArray((doc as { items?: unknown }).items)) {
    throw new IngestError("parse", "invalid JSON feed: no items array");
  }
  const feed = doc as Record<string, unknown> & { items: unknown[] };
  return {
    title: str(feed.title),
    link: str(feed.home_page_url),
    items: feed.items
      .filter((it): it is Record<string, unknown> => !!it && typeof it === "object")
      .map((it) => ({
        guid: str(it.id),
        link: str(it.url) ?? str(it.external_url),
        title: str(it.title) ?? "",
        content: str(it.content_html) ?? str(it.content_text) ?? str(it.summary) ?? "",
        date: str(it.date_published) ?? str(it.date_modified),
      })),
  };
}
