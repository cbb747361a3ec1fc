import type { PoolClient } from "pg";
import type { Db } from "../client.ts";
import { inTransaction } from "./transaction.ts";

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
  /** Simhash Hamming distance to the copy it matched; 0 when it founded the story. */
  distance: number;
  /** Estimated containment (0–1) shared with the copy it matched; 1 when it founded the story. */
  similarity: number;
}

export interface SaveResult {
  itemsInserted: number;
  itemsUpdated: number;
  storiesCreated: number;
  membershipsAdded: number;
  storiesUpdated: number;
  storiesMerged: number;
}

/** The index merged story `from` into story `into` when an item matched both. */
export interface StoryMerge {
  from: string;
  into: string;
  /** The item (feed, identity) whose arrival matched both. */
  feedId: number;
  identityKey: string;
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
export async function saveAssignments(
  db: Db,
  batch: readonly AssignedItem[],
  merges: readonly StoryMerge[] = [],
): Promise<SaveResult> {
  // One row per (feed, identity): a later observation in the batch wins.
  const byKey = new Map<string, AssignedItem>();
  for (const it of batch) byKey.set(`${it.feedId}\u0000${it.identityKey}`, it);
  const rows = [...byKey.values()].sort((a, b) =>
    a.feedId !== b.feedId ? a.feedId - b.feedId : a.identityKey < b.identityKey ? -1 : 1,
  );
  if (rows.length === 0) {
    return { itemsInserted: 0, itemsUpdated: 0, storiesCreated: 0, membershipsAdded: 0, storiesUpdated: 0, storiesMerged: 0 };
  }
  return inTransaction(db, (client) => saveInTx(client, rows, merges));
}

async function saveInTx(client: PoolClient, rows: AssignedItem[], merges: readonly StoryMerge[]): Promise<SaveResult> {
  // Multi-row VALUES with one parameter per value: no array literals to escape for long texts.
  const cols = 11;
  const values: unknown[] = [];
  const tuples: string[] = [];
  rows.forEach((r, i) => {
    const b = i * cols;
    tuples.push(
      `($${b + 1}::bigint,$${b + 2},$${b + 3},$${b + 4},$${b + 5},$${b + 6},$${b + 7},$${b + 8}::timestamptz,$${b + 9}::timestamptz,$${b + 9}::timestamptz,$${b + 10},$${b + 11}::bigint)`,
    );
    values.push(
      r.feedId, r.identityKey, r.guid, r.url, r.canonicalUrl, r.title, r.text, r.publishedAt, r.seenAt, r.contentHash,
      r.simhash.toString(),
    );
  });
  const up = await client.query<{ id: string; feed_id: string; identity_key: string; inserted: boolean }>(
    `INSERT INTO items (feed_id, identity_key, guid, url, canonical_url, title, text, published_at,
                        first_seen_at, last_seen_at, content_hash, simhash)
     VALUES ${tuples.join(",")}
     ON CONFLICT (feed_id, identity_key) DO UPDATE SET
       guid = excluded.guid, url = excluded.url, canonical_url = excluded.canonical_url,
       title = excluded.title, text = excluded.text, published_at = excluded.published_at,
       content_hash = excluded.content_hash, simhash = excluded.simhash,
       last_seen_at = excluded.last_seen_at
     WHERE items.content_hash IS DISTINCT FROM excluded.content_hash
       AND excluded.last_seen_at >= items.last_seen_at
     RETURNING id, feed_id, identity_key, (xmax = 0) AS inserted`,
    values,
  );
  const keyOf = (feedId: number | string, identityKey: string) => `${feedId}\u0000${identityKey}`;
  const itemId = new Map(up.rows.map((r) => [keyOf(r.feed_id, r.identity_key), r.id]));
  const fresh = new Set(up.rows.filter((r) => r.inserted).map((r) => keyOf(r.feed_id, r.identity_key)));
  const itemsInserted = fresh.size;
  const itemsUpdated = up.rows.length - itemsInserted;
  const unchanged = rows.filter((r) => !itemId.has(keyOf(r.feedId, r.identityKey)));
  if (unchanged.length) {
    const ids = await client.query<{ id: string; feed_id: string; identity_key: string }>(
      `SELECT i.id, i.feed_id, i.identity_key
         FROM items i JOIN unnest($1::bigint[], $2::text[]) AS k(feed_id, identity_key)
              USING (feed_id, identity_key)`,
      [arr(unchanged, (r) => r.feedId), arr(unchanged, (r) => r.identityKey)],
    );
    for (const r of ids.rows) itemId.set(keyOf(r.feed_id, r.identity_key), r.id);
  }

  // A story new in this batch is inserted with its aggregates already computed from the
  // batch, so that it needs no second write; stories that existed are recomputed below.
  const byStory = new Map<string, AssignedItem[]>();
  for (const r of rows) byStory.set(r.storyKey, [...(byStory.get(r.storyKey) ?? []), r]);
  const keys = [...byStory.keys()].sort();
  const seeds = keys.map((k) => storySeed(byStory.get(k)!, (r) => itemId.get(keyOf(r.feedId, r.identityKey))!));
  const created = await client.query<{ id: string; key: string }>(
    `INSERT INTO stories (key, title, url, first_seen_at, last_seen_at, copies, outlets, canonical_item_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[],
                          $6::int[], $7::int[], $8::bigint[])
     ON CONFLICT (key) DO NOTHING
     RETURNING id, key`,
    [
      keys, arr(seeds, (x) => x.title), arr(seeds, (x) => x.url), arr(seeds, (x) => x.firstSeen),
      arr(seeds, (x) => x.lastSeen), arr(seeds, (x) => x.copies), arr(seeds, (x) => x.outlets),
      arr(seeds, (x) => x.canonicalItemId),
    ],
  );
  const storyId = new Map(created.rows.map((r) => [r.key, r.id]));
  // Lock the stories that existed in id order: concurrent batches touching the same story
  // serialize here, and the recomputation below then sees every committed member.
  const existingKeys = keys.filter((k) => !storyId.has(k));
  const mergedAway: string[] = [];
  if (existingKeys.length) {
    const storyRows = await client.query<{ id: string; key: string; merged_into_id: string | null }>(
      `SELECT id, key, merged_into_id FROM stories WHERE key = ANY($1::text[]) ORDER BY id FOR UPDATE`,
      [existingKeys],
    );
    for (const r of storyRows.rows) {
      storyId.set(r.key, r.id);
      if (r.merged_into_id) mergedAway.push(r.id);
    }
  }

  // Merges: the losing story's copies move to the survivor and the loser points at it.
  // Stories a concurrent batch merged away are followed to their survivor as well
  // (stories created by this transaction cannot have been merged by another).
  const storiesMerged = await applyMerges(client, merges, storyId, itemId, keyOf);
  const survivor =
    mergedAway.length || storiesMerged || merges.length
      ? await resolveSurvivors(client, [...storyId.values()])
      : new Map<string, string>();
  const finalId = (k: string) => survivor.get(storyId.get(k)!) ?? storyId.get(k)!;

  const members = await client.query(
    `INSERT INTO story_items (story_id, item_id, distance, similarity)
     SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::real[])
     ON CONFLICT DO NOTHING`,
    [
      arr(rows, (r) => finalId(r.storyKey)),
      arr(rows, (r) => itemId.get(keyOf(r.feedId, r.identityKey))!),
      arr(rows, (r) => r.distance),
      arr(rows, (r) => r.similarity),
    ],
  );
  // Recompute every story that existed or took part in a merge, and a new story any of
  // whose members was not a fresh item (its membership or first-seen time may differ
  // from the batch's view).
  const touched = new Set<string>();
  for (const k of keys) {
    const redirected = finalId(k) !== storyId.get(k);
    if (redirected || existingKeys.includes(k) || byStory.get(k)!.some((r) => !fresh.has(keyOf(r.feedId, r.identityKey)))) {
      touched.add(finalId(k));
    }
  }
  for (const m of merges) {
    const into = storyId.get(m.into);
    if (into) touched.add(survivor.get(into) ?? into);
  }
  const storiesUpdated = await recomputeStories(client, [...touched]);
  return {
    itemsInserted,
    itemsUpdated,
    storiesCreated: created.rowCount ?? 0,
    membershipsAdded: members.rowCount ?? 0,
    storiesUpdated,
    storiesMerged,
  };
}

/**
 * Recomputes the aggregates of the given stories from their members (copies, outlets,
 * first/last seen, canonical item, title, url); a story left without members keeps no
 * counts. Rewrites only rows whose values change; returns how many stories with
 * members changed. Call it inside the transaction that changed the memberships,
 * with those stories locked.
 */
export async function recomputeStories(client: PoolClient, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  // Per-story LATERAL lookups use the story_items primary key and the items primary key,
  // whatever the planner's statistics say about the tables' sizes.
  const agg = await client.query(
    `UPDATE stories s SET copies = n.copies, outlets = n.outlets, first_seen_at = n.first_seen,
            last_seen_at = n.last_seen, canonical_item_id = n.item_id, title = n.title, url = n.url,
            updated_at = now()
       FROM (SELECT sid AS story_id, a.copies, a.outlets, a.first_seen, a.last_seen, c.item_id, c.title, c.url
               FROM unnest($1::bigint[]) AS sid
               CROSS JOIN LATERAL (
                 SELECT count(*)::int AS copies, count(DISTINCT i.feed_id)::int AS outlets,
                        min(i.first_seen_at) AS first_seen, max(i.last_seen_at) AS last_seen
                   FROM story_items si JOIN items i ON i.id = si.item_id
                  WHERE si.story_id = sid) a
               CROSS JOIN LATERAL (
                 SELECT i.id AS item_id, i.title, COALESCE(i.canonical_url, i.url) AS url
                   FROM story_items si JOIN items i ON i.id = si.item_id
                  WHERE si.story_id = sid
                  ORDER BY COALESCE(i.published_at, i.first_seen_at), length(i.text) DESC, i.id
                  LIMIT 1) c) n
      WHERE s.id = n.story_id
        AND (s.copies, s.outlets, s.first_seen_at, s.last_seen_at, s.canonical_item_id, s.title, s.url)
            IS DISTINCT FROM (n.copies, n.outlets, n.first_seen, n.last_seen, n.item_id, n.title, n.url)`,
    [ids],
  );
  // A story left without members (its only copy already belonged to another story, as when
  // an item older than the index is delivered again, or its copies were pruned) keeps no counts.
  await client.query(
    `UPDATE stories s SET copies = 0, outlets = 0, updated_at = now()
      WHERE s.id = ANY($1::bigint[]) AND s.copies <> 0
        AND NOT EXISTS (SELECT 1 FROM story_items si WHERE si.story_id = s.id)`,
    [ids],
  );
  return agg.rowCount ?? 0;
}

/** A story that lost copies in deleteItemsInTx, as it stands after. */
export interface TouchedStory {
  id: string;
  /** It still has copies (its aggregates were recomputed). */
  kept: boolean;
  /** It has no copies left and was not merged into another: deleteStoryTrees may delete it. */
  empty: boolean;
}

/**
 * Deletes the given items with their memberships inside the caller's transaction:
 * their stories locked first in id order (as saveAssignments locks them), then the
 * delete, then the stories' aggregates recomputed (recomputeStories). Returns how
 * many items went, and each story that lost copies with whether it kept some.
 */
export async function deleteItemsInTx(client: PoolClient, ids: readonly string[]): Promise<{ items: number; stories: TouchedStory[] }> {
  if (ids.length === 0) return { items: 0, stories: [] };
  // A membership moves only under its story's lock: once every story found is locked, the set is final.
  const locked = new Set<string>();
  for (;;) {
    const found = await client.query<{ story_id: string }>(
      `SELECT DISTINCT story_id::text FROM story_items WHERE item_id = ANY($1::bigint[])`,
      [ids],
    );
    const fresh = found.rows.map((r) => r.story_id).filter((id) => !locked.has(id));
    if (fresh.length === 0) break;
    await client.query(`SELECT id FROM stories WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`, [fresh]);
    for (const id of fresh) locked.add(id);
  }
  const del = await client.query(`DELETE FROM items WHERE id = ANY($1::bigint[])`, [ids]);
  const touched = [...locked];
  await recomputeStories(client, touched);
  const after = await client.query<TouchedStory>(
    `SELECT id::text, copies > 0 AS kept,
            (merged_into_id IS NULL AND NOT EXISTS (SELECT 1 FROM story_items si WHERE si.story_id = s.id)) AS empty
       FROM stories s WHERE id = ANY($1::bigint[])`,
    [touched],
  );
  return { items: del.rowCount ?? 0, stories: after.rows };
}

/** The stories merged (directly or not) into each of `roots`, with the root they lead to. */
const TREE_SQL = `
  WITH RECURSIVE tree(id, root) AS (
    SELECT r, r FROM unnest($1::bigint[]) AS r
    UNION
    SELECT s.id, t.root FROM stories s JOIN tree t ON s.merged_into_id = t.id)
  SELECT id::text, root::text FROM tree WHERE id <> root`;

/**
 * Deletes stories left without copies (`roots`: not merged into another, locked by the
 * caller's transaction) together with the stories merged into them, which point at them.
 * With `skipLocked`, a root any story of whose tree a writer holds is left (for a later
 * run); otherwise those locks are waited for. Returns how many stories were deleted.
 */
export async function deleteStoryTrees(client: PoolClient, roots: readonly string[], opts: { skipLocked?: boolean } = {}): Promise<number> {
  if (roots.length === 0) return 0;
  // Nothing can be merged into a locked root, so its tree is final now.
  const tree = (await client.query<{ id: string; root: string }>(TREE_SQL, [roots])).rows;
  const locked = new Set<string>();
  if (tree.length) {
    const got = await client.query<{ id: string }>(
      `SELECT id::text FROM stories WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE${opts.skipLocked ? " SKIP LOCKED" : ""}`,
      [tree.map((t) => t.id)],
    );
    for (const r of got.rows) locked.add(r.id);
  }
  const held = new Set(tree.filter((t) => !locked.has(t.id)).map((t) => t.root));
  const doomed = [...roots.filter((r) => !held.has(r)), ...tree.filter((t) => !held.has(t.root)).map((t) => t.id)];
  if (doomed.length === 0) return 0;
  // One statement: the merged_into_id references between them are checked at its end.
  const del = await client.query(`DELETE FROM stories WHERE id = ANY($1::bigint[])`, [doomed]);
  return del.rowCount ?? 0;
}

/**
 * Records each merge once: the loser (created empty if its own batch has not been
 * saved yet) points at the survivor, its copies move there, and story_merges keeps
 * the event. Returns how many stories were merged away by this call.
 */
async function applyMerges(
  client: PoolClient,
  merges: readonly StoryMerge[],
  storyId: Map<string, string>,
  itemId: Map<string, string>,
  keyOf: (feedId: number, identityKey: string) => string,
): Promise<number> {
  if (merges.length === 0) return 0;
  const missing = [...new Set(merges.flatMap((m) => [m.from, m.into]))].filter((k) => !storyId.has(k)).sort();
  if (missing.length) {
    await client.query(
      `INSERT INTO stories (key, title, first_seen_at, last_seen_at)
       SELECT k, '', now(), now() FROM unnest($1::text[]) AS k ON CONFLICT (key) DO NOTHING`,
      [missing],
    );
    const found = await client.query<{ id: string; key: string }>(
      `SELECT id, key FROM stories WHERE key = ANY($1::text[]) ORDER BY id FOR UPDATE`,
      [missing],
    );
    for (const r of found.rows) storyId.set(r.key, r.id);
  }
  let merged = 0;
  for (const m of merges) {
    const survivors = await resolveSurvivors(client, [storyId.get(m.from)!, storyId.get(m.into)!]);
    const from = survivors.get(storyId.get(m.from)!) ?? storyId.get(m.from)!;
    const into = survivors.get(storyId.get(m.into)!) ?? storyId.get(m.into)!;
    if (from === into) continue;
    const res = await client.query(
      `UPDATE stories SET merged_into_id = $2, copies = 0, outlets = 0, updated_at = now()
        WHERE id = $1 AND merged_into_id IS NULL`,
      [from, into],
    );
    if (!res.rowCount) continue;
    merged++;
    await client.query(
      `INSERT INTO story_merges (from_story_id, into_story_id, item_id) VALUES ($1, $2, $3)
       ON CONFLICT (from_story_id) DO NOTHING`,
      [from, into, itemId.get(keyOf(m.feedId, m.identityKey)) ?? null],
    );
    await client.query(`UPDATE story_items SET story_id = $2 WHERE story_id = $1`, [from, into]);
  }
  return merged;
}

/** Follows merged_into_id from each story to the story its copies live in now; locks those. */
async function resolveSurvivors(client: PoolClient, ids: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let frontier = [...new Set(ids)];
  const next = new Map<string, string>();
  for (let depth = 0; frontier.length && depth < 64; depth++) {
    const { rows } = await client.query<{ id: string; merged_into_id: string | null }>(
      `SELECT id, merged_into_id FROM stories WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`,
      [frontier],
    );
    frontier = [];
    for (const r of rows) {
      if (r.merged_into_id) {
        next.set(r.id, r.merged_into_id);
        frontier.push(r.merged_into_id);
      }
    }
  }
  for (const id of ids) {
    let cur = id;
    for (let i = 0; i < 64 && next.has(cur); i++) cur = next.get(cur)!;
    if (cur !== id) out.set(id, cur);
  }
  return out;
}

/** Characters as Postgres's length(text) counts them (code points). */
const codePoints = (s: string) => s.length - (s.match(/[\uD800-\uDBFF]/g)?.length ?? 0);

/**
 * A story's row as the batch alone sees it: the canonical rule (earliest published,
 * else first seen; ties to the longest text, then the lowest item id) and the aggregates.
 */
function storySeed(members: AssignedItem[], idOf: (r: AssignedItem) => string) {
  const time = (r: AssignedItem) => (r.publishedAt ?? r.seenAt).getTime();
  let canon = members[0]!;
  for (const r of members.slice(1)) {
    const d = time(r) - time(canon) || codePoints(canon.text) - codePoints(r.text) || Number(idOf(r)) - Number(idOf(canon));
    if (d < 0) canon = r;
  }
  const seen = members.map((r) => r.seenAt.getTime());
  return {
    title: canon.title,
    url: canon.canonicalUrl ?? canon.url,
    firstSeen: new Date(Math.min(...seen)),
    lastSeen: new Date(Math.max(...seen)),
    copies: members.length,
    outlets: new Set(members.map((r) => r.feedId)).size,
    canonicalItemId: idOf(canon),
  };
}

export interface StoryRow {
  id: number;
  title: string;
  url: string | null;
  copies: number;
  outlets: number;
  /** When the canonical (earliest) copy was published, if it said. */
  publishedAt: Date | null;
  firstSeenAt: Date;
  lastSeenAt: Date;
}

/** Stories last seen at or after `since`, most outlets first. */
export async function listStories(db: Db, params: { since?: Date; limit?: number } = {}): Promise<StoryRow[]> {
  const { rows } = await db.$client.query<{
    id: string; title: string; url: string | null; copies: number; outlets: number;
    published_at: Date | null; first_seen_at: Date; last_seen_at: Date;
  }>(
    `SELECT s.id, s.title, s.url, s.copies, s.outlets, c.published_at, s.first_seen_at, s.last_seen_at
       FROM stories s LEFT JOIN items c ON c.id = s.canonical_item_id
      WHERE s.last_seen_at >= $1 AND s.merged_into_id IS NULL AND s.copies > 0
      ORDER BY s.outlets DESC, s.copies DESC, s.first_seen_at DESC, s.id
      LIMIT $2`,
    [params.since ?? new Date(0), params.limit ?? 20],
  );
  return rows.map((r) => ({
    id: Number(r.id), title: r.title, url: r.url, copies: r.copies, outlets: r.outlets,
    publishedAt: r.published_at, firstSeenAt: r.first_seen_at, lastSeenAt: r.last_seen_at,
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

export interface IndexedItem {
  id: number;
  feedId: number;
  identityKey: string;
  title: string;
  text: string;
  publishedAt: Date | null;
  firstSeenAt: Date;
  storyKey: string;
  distance: number;
  similarity: number;
}

/**
 * Items published (or, undated, first seen) at or after `since`, with the key of the
 * story they belong to now, in id order from `afterId`: what rebuilding the index needs.
 */
export async function itemsForIndex(
  db: Db,
  params: { since: Date; afterId?: number; limit?: number },
): Promise<IndexedItem[]> {
  const { rows } = await db.$client.query<{
    id: string; feed_id: string; identity_key: string; title: string; text: string;
    published_at: Date | null; first_seen_at: Date; story_key: string; distance: number; similarity: number;
  }>(
    `SELECT i.id, i.feed_id, i.identity_key, i.title, i.text, i.published_at, i.first_seen_at,
            s.key AS story_key, si.distance, si.similarity
       FROM items i
       JOIN story_items si ON si.item_id = i.id
       JOIN stories s ON s.id = si.story_id
      WHERE COALESCE(i.published_at, i.first_seen_at) >= $1 AND i.id > $2
      ORDER BY i.id
      LIMIT $3`,
    [params.since, params.afterId ?? 0, params.limit ?? 1000],
  );
  return rows.map((r) => ({
    id: Number(r.id), feedId: Number(r.feed_id), identityKey: r.identity_key, title: r.title, text: r.text,
    publishedAt: r.published_at, firstSeenAt: r.first_seen_at, storyKey: r.story_key, distance: r.distance,
    similarity: r.similarity,
  }));
}
