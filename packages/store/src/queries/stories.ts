import type { PoolClient } from "pg";
import type { Db } from "../client.ts";

/** One item observation with the story the dedupe index assigned it to. */
export interface AssignedItem {
  feedId: number;
  identityKey: string;
  guid: string | null;
  url: string | null;
  canonicalUrl: string | null;
  title: string;
  text: string;
  publishedAt: Date | null;
  seenAt: Date;
  contentHash: string;
  /** Signed 64-bit simhash. */
  simhash: bigint;
  storyKey: string;
  /** Hamming distance to the fingerprint it matched; 0 when it founded the story. */
  distance: number;
}

export interface SaveResult {
  itemsInserted: number;
  itemsUpdated: number;
  storiesCreated: number;
  membershipsAdded: number;
  storiesUpdated: number;
}

const arr = <T, U>(xs: readonly T[], f: (x: T) => U): U[] => xs.map(f);

/**
 * Writes a batch of items, their stories and memberships in one transaction,
 * idempotently: unique keys with ON CONFLICT everywhere, and rows rewritten
 * only when a value changes, so a batch saved twice changes no row.
 *
 * Canonical member of a story: the earliest published copy (first seen when
 * undated), ties to the longest text, then the lowest item id.
 */
export async function saveAssignments(db: Db, batch: readonly AssignedItem[]): Promise<SaveResult> {
  // One row per (feed, identity): a later observation in the batch wins.
  const byKey = new Map<string, AssignedItem>();
  for (const it of batch) byKey.set(`${it.feedId}\u0000${it.identityKey}`, it);
  const rows = [...byKey.values()].sort((a, b) =>
    a.feedId !== b.feedId ? a.feedId - b.feedId : a.identityKey < b.identityKey ? -1 : 1,
  );
  if (rows.length === 0) {
    return { itemsInserted: 0, itemsUpdated: 0, storiesCreated: 0, membershipsAdded: 0, storiesUpdated: 0 };
  }
  const client = await db.$client.connect();
  try {
    await client.query("BEGIN");
    const result = await saveInTx(client, rows);
    await client.query("COMMIT");
    return result;
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}

async function saveInTx(client: PoolClient, rows: AssignedItem[]): Promise<SaveResult> {
  const up = await client.query<{ inserted: boolean }>(
    `INSERT INTO items (feed_id, identity_key, guid, url, canonical_url, title, text, published_at,
                        first_seen_at, last_seen_at, content_hash, simhash)
     SELECT f, k, g, u, cu, t, x, p, s, s, h, sh
       FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                   $8::timestamptz[], $9::timestamptz[], $10::text[], $11::bigint[])
            AS v(f, k, g, u, cu, t, x, p, s, h, sh)
     ON CONFLICT (feed_id, identity_key) DO UPDATE SET
       guid = excluded.guid, url = excluded.url, canonical_url = excluded.canonical_url,
       title = excluded.title, text = excluded.text, published_at = excluded.published_at,
       content_hash = excluded.content_hash, simhash = excluded.simhash,
       last_seen_at = excluded.last_seen_at
     WHERE items.content_hash IS DISTINCT FROM excluded.content_hash
       AND excluded.last_seen_at >= items.last_seen_at
     RETURNING (xmax = 0) AS inserted`,
    [
      arr(rows, (r) => r.feedId),
      arr(rows, (r) => r.identityKey),
      arr(rows, (r) => r.guid),
      arr(rows, (r) => r.url),
      arr(rows, (r) => r.canonicalUrl),
      arr(rows, (r) => r.title),
      arr(rows, (r) => r.text),
      arr(rows, (r) => r.publishedAt),
      arr(rows, (r) => r.seenAt),
      arr(rows, (r) => r.contentHash),
      arr(rows, (r) => r.simhash.toString()),
    ],
  );
  const itemsInserted = up.rows.filter((r) => r.inserted).length;
  const itemsUpdated = up.rows.length - itemsInserted;

  const ids = await client.query<{ id: string; feed_id: string; identity_key: string }>(
    `SELECT i.id, i.feed_id, i.identity_key
       FROM items i JOIN unnest($1::bigint[], $2::text[]) AS k(feed_id, identity_key)
            USING (feed_id, identity_key)`,
    [arr(rows, (r) => r.feedId), arr(rows, (r) => r.identityKey)],
  );
  const itemId = new Map(ids.rows.map((r) => [`${r.feed_id}\u0000${r.identity_key}`, r.id]));

  // Stories: the first row of each key seeds title and times; aggregates follow below.
  const seeds = new Map<string, AssignedItem>();
  for (const r of rows) if (!seeds.has(r.storyKey)) seeds.set(r.storyKey, r);
  const keys = [...seeds.keys()].sort();
  const created = await client.query(
    `INSERT INTO stories (key, title, url, first_seen_at, last_seen_at)
     SELECT k, t, u, s, s FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS v(k, t, u, s)
     ON CONFLICT (key) DO NOTHING`,
    [
      keys,
      keys.map((k) => seeds.get(k)!.title),
      keys.map((k) => seeds.get(k)!.canonicalUrl ?? seeds.get(k)!.url),
      keys.map((k) => seeds.get(k)!.seenAt),
    ],
  );
  // Lock the stories in id order: concurrent batches touching the same story serialize here,
  // and the aggregates below then see every committed member.
  const storyRows = await client.query<{ id: string; key: string }>(
    `SELECT id, key FROM stories WHERE key = ANY($1::text[]) ORDER BY id FOR UPDATE`,
    [keys],
  );
  const storyId = new Map(storyRows.rows.map((r) => [r.key, r.id]));

  const members = await client.query(
    `INSERT INTO story_items (story_id, item_id, distance)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[])
     ON CONFLICT DO NOTHING`,
    [
      arr(rows, (r) => storyId.get(r.storyKey)!),
      arr(rows, (r) => itemId.get(`${r.feedId}\u0000${r.identityKey}`)!),
      arr(rows, (r) => r.distance),
    ],
  );
  const touched = [...storyId.values()];
  const agg = await client.query(
    `WITH agg AS (
        SELECT si.story_id, count(*)::int AS copies, count(DISTINCT i.feed_id)::int AS outlets,
               min(i.first_seen_at) AS first_seen, max(i.last_seen_at) AS last_seen
          FROM story_items si JOIN items i ON i.id = si.item_id
         WHERE si.story_id = ANY($1::bigint[])
         GROUP BY si.story_id),
      canon AS (
        SELECT DISTINCT ON (si.story_id) si.story_id, i.id AS item_id, i.title,
               COALESCE(i.canonical_url, i.url) AS url
          FROM story_items si JOIN items i ON i.id = si.item_id
         WHERE si.story_id = ANY($1::bigint[])
         ORDER BY si.story_id, COALESCE(i.published_at, i.first_seen_at), length(i.text) DESC, i.id)
     UPDATE stories s SET copies = agg.copies, outlets = agg.outlets, first_seen_at = agg.first_seen,
            last_seen_at = agg.last_seen, canonical_item_id = canon.item_id, title = canon.title,
            url = canon.url, updated_at = now()
       FROM agg JOIN canon USING (story_id)
      WHERE s.id = agg.story_id
        AND (s.copies, s.outlets, s.first_seen_at, s.last_seen_at, s.canonical_item_id, s.title, s.url)
            IS DISTINCT FROM
            (agg.copies, agg.outlets, agg.first_seen, agg.last_seen, canon.item_id, canon.title, canon.url)`,
    [touched],
  );
  return {
    itemsInserted,
    itemsUpdated,
    storiesCreated: created.rowCount ?? 0,
    membershipsAdded: members.rowCount ?? 0,
    storiesUpdated: agg.rowCount ?? 0,
  };
}

export interface StoryRow {
  id: number;
  title: string;
  url: string | null;
  copies: number;
  outlets: number;
  firstSeenAt: Date;
  lastSeenAt: Date;
}

/** Stories last seen at or after `since`, most outlets first. */
export async function listStories(db: Db, params: { since?: Date; limit?: number } = {}): Promise<StoryRow[]> {
  const { rows } = await db.$client.query<{
    id: string; title: string; url: string | null; copies: number; outlets: number;
    first_seen_at: Date; last_seen_at: Date;
  }>(
    `SELECT id, title, url, copies, outlets, first_seen_at, last_seen_at FROM stories
      WHERE last_seen_at >= $1
      ORDER BY outlets DESC, copies DESC, first_seen_at DESC, id
      LIMIT $2`,
    [params.since ?? new Date(0), params.limit ?? 20],
  );
  return rows.map((r) => ({
    id: Number(r.id), title: r.title, url: r.url, copies: r.copies, outlets: r.outlets,
    firstSeenAt: r.first_seen_at, lastSeenAt: r.last_seen_at,
  }));
}

/** Row counts of the main tables, for summaries and tests. */
export async function tableCounts(db: Db): Promise<Record<"feeds" | "fetches" | "items" | "stories" | "storyItems", number>> {
  const { rows } = await db.$client.query<Record<string, number>>(
    `SELECT (SELECT count(*) FROM feeds)::int AS feeds, (SELECT count(*) FROM fetches)::int AS fetches,
            (SELECT count(*) FROM items)::int AS items, (SELECT count(*) FROM stories)::int AS stories,
            (SELECT count(*) FROM story_items)::int AS "storyItems"`,
  );
  const r = rows[0]!;
  return { feeds: r.feeds!, fetches: r.fetches!, items: r.items!, stories: r.stories!, storyItems: r.storyItems! };
}
