import Parser from "rss-parser";
import { IngestError } from "../errors.ts";
import { parseJsonFeed, textOf } from "./json-feed.ts";
import { repairXml } from "./repair.ts";

export { parseJsonFeed } from "./json-feed.ts";

/** A feed entry as read, before normalization. */
export interface RawItem {
  guid: string | null;
  link: string | null;
  title: string;
  content: string;
  /** The date text as given (RFC 822, ISO 8601, …), or null. */
  date: string | null;
  /** The xml:base in scope for the item, possibly relative to the feed URL; absent when none. */
  base?: string | null;
}

export interface ParsedFeed {
  title: string | null;
  link: string | null;
  items: RawItem[];
  /** The xml:base in scope for the channel or feed element; absent when none. */
  base?: string | null;
}

type Node = Record<string, unknown>;
/** Item dates, best first; the pubDate, dc:date, published and updated elements were renamed nf:* by repairXml. */
const DATE_FIELDS = [
  "nf:published", "issued", "nf:pubDate", "nf:dcdate", "dcterms:issued", "dcterms:created", "created",
  "nf:updated", "modified", "dcterms:modified",
];
const parser = new Parser<Node, Node>({
  defaultRSS: 2,
  customFields: {
    feed: [["nf:base", "nfBase"], ["link", "nfLink", { keepArray: true }]] as unknown as string[],
    item: [
      ["nf:base", "nfBase"], ["link", "nfLink", { keepArray: true }], ["guid", "nfGuid", { keepArray: true }],
      "id", "content:encoded", "description", "summary", "content", ...DATE_FIELDS,
    ] as unknown as string[],
  },
});

/**
 * Parses RSS 0.9x/1.0/2.0, Atom 0.3/1.0 (through rss-parser, after repairXml)
 * and JSON Feed text. Throws IngestError("parse") for what cannot be read, and
 * for anything unexpected on the way: hostile input never escapes unclassified.
 */
export async function parseFeed(text: string): Promise<ParsedFeed> {
  try {
    return await read(text);
  } catch (cause) {
    if (cause instanceof IngestError) throw cause;
    throw new IngestError("parse", `not a readable feed: ${(cause as Error).message?.split("\n")[0] ?? String(cause)}`, { cause });
  }
}

async function read(text: string): Promise<ParsedFeed> {
  const trimmed = text.replace(/^[\uFEFF\s]+/, "");
  if (trimmed.startsWith("{")) return parseJsonFeed(trimmed);
  // NUL is in no XML document and no text: a body holding it is binary, or an attack on the
  // readers behind us (C strings, Postgres text). Refused, where other stray controls are dropped.
  const nul = trimmed.indexOf("\u0000");
  if (nul >= 0) {
    throw new IngestError("bad_encoding", `not text: a NUL character (U+0000) at character ${nul.toLocaleString("en-US")}`);
  }
  const { xml, root } = repairXml(trimmed);
  if (!root) throw new IngestError("parse", "not a readable feed: no XML element found");
  let out: Parser.Output<Node> & Node;
  try {
    out = (await parser.parseString(xml)) as Parser.Output<Node> & Node;
  } catch (cause) {
    throw new IngestError("parse", `not a readable feed (root <${root}>): ${(cause as Error).message.split("\n")[0]}`, { cause });
  }
  const atom = root === "feed";
  return {
    title: textOf(out.title),
    link: pickLink(out.nfLink, atom) ?? textOf(out.link),
    base: textOf(out.nfBase),
    items: (out.items ?? []).map((it) => readItem(it, atom)),
  };
}

function readItem(it: Node, atom: boolean): RawItem {
  const guids = Array.isArray(it.nfGuid) ? it.nfGuid : [];
  const guid = textOf(guids[0]) ?? textOf(it.id);
  const permalink = (attrs(guids[0]).isPermaLink ?? "true").trim().toLowerCase() !== "false";
  let link = pickLink(it.nfLink, atom);
  if (!link && permalink && guid && /^https?:\/\//i.test(guid)) link = guid;
  let date: string | null = null;
  for (const f of DATE_FIELDS) if ((date = textOf(it[f]))) break;
  const item: RawItem = {
    guid,
    link,
    title: textOf(it.title) ?? "",
    content: textOf(it["content:encoded"]) ?? textOf(it.content) ?? textOf(it.summary) ?? textOf(it.description) ?? "",
    date,
  };
  const base = textOf(it.nfBase);
  if (base) item.base = base;
  return item;
}

const attrs = (node: unknown): Record<string, string> =>
  node && typeof node === "object" && "$" in node ? ((node as { $: Record<string, string> }).$ ?? {}) : {};

/**
 * The entry's link: an Atom `<link>` with rel alternate (or none), text/html
 * first, then XHTML, then any; else the first with an href; an RSS `<link>`'s text.
 */
function pickLink(links: unknown, atom: boolean): string | null {
  if (!Array.isArray(links) || links.length === 0) return null;
  const withHref = links.map((l) => ({ a: attrs(l), text: textOf(l) })).filter((l) => l.a.href?.trim() || l.text);
  if (atom || withHref.some((l) => l.a.href)) {
    const alt = withHref.filter((l) => l.a.href && (!l.a.rel || l.a.rel === "alternate"));
    const type = (l: (typeof alt)[number]) => (l.a.type ?? "text/html").toLowerCase();
    const best = alt.find((l) => type(l) === "text/html") ?? alt.find((l) => type(l).includes("html")) ?? alt[0] ?? withHref.find((l) => l.a.href);
    if (best) return best.a.href!.trim();
  }
  return withHref.find((l) => l.text)?.text ?? null;
}
