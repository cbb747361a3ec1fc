/**
 * Replays with today's ingest code: archived raw bodies read again, the newest
 * version of each item kept, and each item compared with the stored version.
 */
import { promisify } from "node:util";
import { gunzip as gunzipCb } from "node:zlib";
import type { ItemPayload } from "@newsfeed/jobs";
import { IngestError } from "./errors.ts";
import { normalizeItems } from "./normalize.ts";
import { decodeBody } from "./parse/decode.ts";
import { parseFeed } from "./parse/parse-feed.ts";

const gunzip = promisify(gunzipCb);

/** What readArchivedBody needs of an archived fetch (a `fetches` row). */
export interface ArchivedBody {
  feedId: number;
  startedAt: Date;
  contentType: string | null;
  finalUrl: string | null;
  bodyGzip: Buffer;
}

/**
 * The items of one archived body as a poll would read them today: gunzip,
 * decode, parse, normalize, with the fetch's start as the items' seenAt and the
 * URL the body came from (else the feed's URL) as the base of relative links.
 * Throws IngestError: "bad_encoding" for a body that is not gzip, "parse" for
 * one that is not a readable feed.
 */
export async function readArchivedBody(fetch: ArchivedBody, feedUrl: string): Promise<ItemPayload[]> {
  let body: Buffer;
  try {
    body = await gunzip(fetch.bodyGzip);
  } catch (cause) {
    throw new IngestError("bad_encoding", `archived body is not gzip: ${(cause as Error).message}`, { cause });
  }
  const parsed = await parseFeed(decodeBody(body, fetch.contentType));
  return normalizeItems(parsed, { feedId: fetch.feedId, feedUrl: fetch.finalUrl ?? feedUrl, seenAt: fetch.startedAt });
}

/**
 * The newest version of each item (feed + identity) among those added: of two
 * versions with different content hashes, the one seen later wins (the later
 * added on a tie); of two with the same hash, the earlier seenAt is kept, so
 * that a version's seenAt is when it was first seen, as a poll records it.
 * Add items in the order they were seen (archived fetches oldest first).
 */
export class NewestVersions {
  private readonly byKey = new Map<string, ItemPayload>();

  add(items: Iterable<ItemPayload>): void {
    for (const it of items) {
      const key = `${it.feedId}\u0000${it.identityKey}`;
      const prev = this.byKey.get(key);
      if (!prev) this.byKey.set(key, it);
      else if (prev.contentHash === it.contentHash) {
        if (Date.parse(it.seenAt) < Date.parse(prev.seenAt)) this.byKey.set(key, { ...prev, seenAt: it.seenAt });
      } else if (Date.parse(it.seenAt) >= Date.parse(prev.seenAt)) this.byKey.set(key, it);
    }
  }

  get size(): number {
    return this.byKey.size;
  }

  values(): ItemPayload[] {
    return [...this.byKey.values()];
  }
}

/**
 * How a replayed item compares with the stored one:
 * - new: not stored;
 * - unchanged: stored with the same content hash;
 * - older: stored with another hash, seen later than this version (never overwritten by it);
 * - updated: stored with another hash, seen at or before this version.
 */
export type ReplayVerdict = "new" | "updated" | "unchanged" | "older";

export function replayVerdict(
  item: Pick<ItemPayload, "contentHash" | "seenAt">,
  stored: { contentHash: string; lastSeenAt: Date } | undefined,
): ReplayVerdict {
  if (!stored) return "new";
  if (stored.contentHash === item.contentHash) return "unchanged";
  return stored.lastSeenAt.getTime() > Date.parse(item.seenAt) ? "older" : "updated";
}
