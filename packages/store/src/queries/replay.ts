/** Reads for the replay commands: archived fetch bodies, page by page, and the stored version of items. */
import type { Db } from "../client.ts";

/** Archived fetches to replay: one feed or all, started in [since, until). */
export interface ArchiveRange {
  /** One feed; all feeds when absent. */
  feedId?: number;
  since: Date;
  until: Date;
}

/** A feed with archived bodies in a range, and how many. */
export interface ArchivedFeed {
  feedId: number;
  url: string;
  fullText: boolean;
  fetches: number;
}

/** One archived fetch: an `ok` fetch whose body was kept. */
export interface ArchivedFetch {
  id: number;
  feedId: number;
  startedAt: Date;
  contentType: string | null;
  finalUrl: string | null;
  bodyGzip: Buffer;
}

/** The feeds that have archived bodies (ok fetches with a body) in the range, by feed id, with their counts. */
export async function archivedFeeds(db: Db, range: ArchiveRange): Promise<ArchivedFeed[]> {
  const { rows } = await db.$client.query<{ feed_id: string; url: string; full_text: boolean; n: number }>(
    `SELECT f.id AS feed_id, f.url, f.full_text, count(*)::int AS n
       FROM fetches x JOIN feeds f ON f.id = x.feed_id
      WHERE x.outcome = 'ok' AND x.body_gzip IS NOT NULL AND x.started_at >= $1 AND x.started_at < $2
        AND ($3::bigint IS NULL OR x.feed_id = $3)
      GROUP BY f.id ORDER BY f.id`,
    [range.since, range.until, range.feedId ?? null],
  );
  return rows.map((r) => ({ feedId: Number(r.feed_id), url: r.url, fullText: r.full_text, fetches: r.n }));
}

/**
 * One page of a feed's archived fetches in [since, until), oldest first, after
 * `after` (the last fetch of the previous page; null for the first page).
 */
export async function archivedFetchPage(
  db: Db,
  feedId: number,
  range: Omit<ArchiveRange, "feedId">,
  after: { startedAt: Date; id: number } | null,
  limit: number,
): Promise<ArchivedFetch[]> {
  const { rows } = await db.$client.query<{
    id: string; feed_id: string; started_at: Date; content_type: string | null; final_url: string | null; body_gzip: Buffer;
  }>(
    `SELECT id, feed_id, started_at, content_type, final_url, body_gzip
       FROM fetches
      WHERE feed_id = $1 AND outcome = 'ok' AND body_gzip IS NOT NULL AND started_at >= $2 AND started_at < $3
        AND ($4::timestamptz IS NULL OR (started_at, id) > ($4::timestamptz, $5::bigint))
      ORDER BY started_at, id
      LIMIT $6`,
    [feedId, range.since, range.until, after?.startedAt ?? null, after?.id ?? 0, limit],
  );
  return rows.map((r) => ({
    id: Number(r.id), feedId: Number(r.feed_id), startedAt: r.started_at, contentType: r.content_type,
    finalUrl: r.final_url, bodyGzip: r.body_gzip,
  }));
}

/** The version of an item that is stored: its content hash and when that version was (first) seen. */
export interface StoredVersion {
  contentHash: string;
  lastSeenAt: Date;
}

/** The stored version of each of the feed's items among `identityKeys`. */
export async function storedItemVersions(
  db: Db,
  feedId: number,
  identityKeys: readonly string[],
): Promise<Map<string, StoredVersion>> {
  if (identityKeys.length === 0) return new Map();
  const { rows } = await db.$client.query<{ identity_key: string; content_hash: string; last_seen_at: Date }>(
    `SELECT identity_key, content_hash, last_seen_at FROM items WHERE feed_id = $1 AND identity_key = ANY($2::text[])`,
    [feedId, identityKeys],
  );
  return new Map(rows.map((r) => [r.identity_key, { contentHash: r.content_hash, lastSeenAt: r.last_seen_at }]));
}
