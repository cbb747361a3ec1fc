import { createHash } from "node:crypto";
import type { ItemPayload } from "@newsfeed/jobs";
import { parseFeedDate } from "./parse/dates.ts";
import type { ParsedFeed, RawItem } from "./parse/parse-feed.ts";

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");

/**
 * Longest title kept, in UTF-16 code units: a headline is a line, and a feed
 * that puts megabytes in a title (garbage or an attack) would carry them into
 * every queue payload, story row and terminal. Longer titles are cut at a code
 * point boundary and end in "…".
 */
export const MAX_TITLE_CHARS = 1_000;

/** NUL cannot be stored in Postgres text; it is removed from every field (whatever the parser let through). */
const noNul = (s: string): string => (s.includes("\u0000") ? s.replace(/\u0000/g, "") : s);
const noNulOrNull = (s: string | null): string | null => (s === null ? null : noNul(s) || null);

/** `title` cut to MAX_TITLE_CHARS (the "…" included), never inside a surrogate pair. */
export function capTitle(title: string): string {
  if (title.length <= MAX_TITLE_CHARS) return title;
  let end = MAX_TITLE_CHARS - 1;
  const last = title.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${title.slice(0, end)}…`;
}

/** Query parameters that track clicks and never identify content. */
const TRACKING = /^(utm_\w+|fbclid|gclid|dclid|gbraid|wbraid|msclkid|mc_cid|mc_eid|yclid|igshid|_hsenc|_hsmi|mkt_tok|ref_src|cmpid)$/i;

/** Resolves `link` against `base`; null when it is not an http(s) URL. */
export function resolveUrl(link: string | null, base: string): string | null {
  if (!link) return null;
  try {
    const u = new URL(link, base);
    return u.protocol === "http:" || u.protocol === "https:" ? u.toString() : null;
  } catch {
    return null;
  }
}

/** The URL without tracking parameters and fragment: used for matching, not identity. */
export function canonicalizeUrl(url: string | null): string | null {
  if (!url) return null;
  try {
    const u = new URL(url);
    for (const key of [...u.searchParams.keys()]) if (TRACKING.test(key)) u.searchParams.delete(key);
    u.hash = "";
    u.hostname = u.hostname.toLowerCase();
    return u.toString();
  } catch {
    return url;
  }
}

/**
 * Parses a feed date (RFC 822 and ISO 8601 variants and common junk; see
 * parseFeedDate). Zone-less times are read as UTC. A missing date or one that
 * cannot be read gives null (the item is stored with no published time and
 * sorts by the time it was seen); a date more than `maxFutureMs` after `now`
 * is clamped to now.
 */
export function parseDate(text: string | null, now: Date, maxFutureMs = 24 * 3600_000): Date | null {
  if (!text) return null;
  const ms = parseFeedDate(text);
  if (ms === null || Number.isNaN(ms)) return null;
  if (ms > now.getTime() + maxFutureMs) return new Date(now.getTime());
  return new Date(ms);
}

/** Identity within a feed: guid, else canonical link, else a hash of title + content. */
export function identityOf(item: RawItem, canonicalUrl: string | null): string {
  if (item.guid) return `guid:${item.guid}`;
  if (canonicalUrl) return `url:${canonicalUrl}`;
  return `hash:${sha256(`${item.title}\u0000${item.content}`).slice(0, 32)}`;
}

/**
 * Turns parsed items into queue payloads. A relative item link resolves
 * against the xml:base in scope for the item (itself resolved against the feed
 * URL), else the feed's xml:base, else the feed URL (the document's base, as XML
 * has it; the channel's <link> names the site, not a base). A guid repeated
 * inside one fetch gets a #2, #3 … suffix so that both entries are kept.
 * NUL is removed from every field and titles are capped at MAX_TITLE_CHARS.
 */
export function normalizeItems(feed: ParsedFeed, ctx: { feedId: number; feedUrl: string; seenAt: Date }): ItemPayload[] {
  const feedBase = resolveUrl(feed.base ?? null, ctx.feedUrl) ?? ctx.feedUrl;
  const seen = new Map<string, number>();
  const out: ItemPayload[] = [];
  for (const given of feed.items) {
    const raw: RawItem = {
      ...given,
      guid: noNulOrNull(given.guid),
      link: noNulOrNull(given.link),
      title: capTitle(noNul(given.title)),
      content: noNul(given.content),
      date: noNulOrNull(given.date),
    };
    const itemBase = resolveUrl(raw.base ?? null, ctx.feedUrl);
    const url = resolveUrl(raw.link, itemBase ?? feedBase);
    const canonicalUrl = canonicalizeUrl(url);
    let identityKey = identityOf(raw, canonicalUrl);
    const n = (seen.get(identityKey) ?? 0) + 1;
    seen.set(identityKey, n);
    if (n > 1) identityKey = `${identityKey}#${n}`;
    const published = parseDate(raw.date, ctx.seenAt);
    out.push({
      feedId: ctx.feedId,
      identityKey,
      guid: raw.guid,
      url,
      canonicalUrl,
      title: raw.title,
      content: raw.content,
      publishedAt: published ? published.toISOString() : null,
      seenAt: ctx.seenAt.toISOString(),
      contentHash: sha256(`${raw.title}\u0000${raw.content}\u0000${url ?? ""}`).slice(0, 32),
    });
  }
  return out;
}
