/**
 * Replaying stored items through dedupe (`newsfeed replay items`): the items of a
 * time window page by page, the stories around it, and one transaction per batch
 * that moves items between stories, rewrites their text and fingerprint, and
 * recomputes the stories it touched. Every write is conditional, so a batch
 * applied twice changes no row the second time.
 *
 * An item's time is its dedupe time: published, else first seen (as in the
 * dedupe window and `itemsForIndex`).
 */
import type { PoolClient } from "pg";
import type { Db } from "../client.ts";
import { recomputeStories, type AssignedItem } from "./stories.ts";
import { inTransaction } from "./transaction.ts";

/** Items whose time (published, else first seen) is ≥ since and, when given, < until. */
export interface ItemWindow {
  since: Date;
  until?: Date;
}

/** A stored item with the story it belongs to now: what saveAssignments stored, first seen instead of last, with ids. */
export interface StoredItem extends Omit<AssignedItem, "seenAt"> {
  id: number;
  firstSeenAt: Date;
  storyId: number;
}

const TIME = "COALESCE(i.published_at, i.first_seen_at)";
/** An open window ends at infinity (a timestamptz Postgres reads from this string). */
const end = (w: ItemWindow): Date | string => w.until ?? "infinity";

const SELECT_ITEMS = `
  SELECT i.id, i.feed_id, i.identity_key, i.guid, i.url, i.canonical_url, i.title, i.text, i.published_at,
         i.first_seen_at, i.content_hash, i.simhash, s.id AS story_id, s.key AS story_key, si.distance, si.similarity
    FROM items i
    JOIN story_items si ON si.item_id = i.id
    JOIN stories s ON s.id = si.story_id`;

interface ItemRow {
  id: string; feed_id: string; identity_key: string; guid: string | null; url: string | null; canonical_url: string | null;
  title: string; text: string; published_at: Date | null; first_seen_at: Date; content_hash: string; simhash: string;
  story_id: string; story_key: string; distance: number; similarity: number;
}

const toItem = (r: ItemRow): StoredItem => ({
  id: Number(r.id), feedId: Number(r.feed_id), identityKey: r.identity_key, guid: r.guid, url: r.url,
  canonicalUrl: r.canonical_url, title: r.title, text: r.text, publishedAt: r.published_at, firstSeenAt: r.first_seen_at,
  contentHash: r.content_hash, simhash: BigInt(r.simhash), storyId: Number(r.story_id), storyKey: r.story_key,
  distance: r.distance, similarity: r.similarity,
});

/** How many items (with a story) the window holds, and the highest id among them. */
export async function countWindowItems(db: Db, w: ItemWindow): Promise<{ count: number; maxId: number }> {
  const { rows } = await db.$client.query<{ n: number; max_id: string | null }>(
    `SELECT count(*)::int AS n, max(i.id) AS max_id FROM items i
      WHERE ${TIME} >= $1 AND ${TIME} < $2 AND EXISTS (SELECT 1 FROM story_items si WHERE si.item_id = i.id)`,
    [w.since, end(w)],
  );
  return { count: rows[0]!.n, maxId: Number(rows[0]!.max_id ?? 0) };
}

/** A page of the window's items in id order after `afterId` (up to `maxId`), with their stories. */
export async function windowItems(
  db: Db,
  w: ItemWindow & { afterId: number; limit: number; maxId?: number },
): Promise<StoredItem[]> {
  const { rows } = await db.$client.query<ItemRow>(
    `${SELECT_ITEMS}
      WHERE ${TIME} >= $1 AND ${TIME} < $2 AND i.id > $3 AND i.id <= $4
      ORDER BY i.id LIMIT $5`,
    [w.since, end(w), w.afterId, w.maxId ?? Number.MAX_SAFE_INTEGER, w.limit],
  );
  return rows.map(toItem);
}

/** The items just outside the window, within `marginMs` of it: the copies the window's items may match. */
export async function countContextItems(db: Db, w: ItemWindow & { marginMs: number }): Promise<number> {
  const { rows } = await db.$client.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM items i
      WHERE ((${TIME} >= $1 AND ${TIME} < $2) OR (${TIME} >= $3 AND ${TIME} < $4))
        AND EXISTS (SELECT 1 FROM story_items si WHERE si.item_id = i.id)`,
    contextParams(w),
  );
  return rows[0]!.n;
}

/** A page of the context items (see countContextItems) in id order, with their stories. */
export async function contextItems(
  db: Db,
  w: ItemWindow & { marginMs: number; afterId: number; limit: number },
): Promise<StoredItem[]> {
  const { rows } = await db.$client.query<ItemRow>(
    `${SELECT_ITEMS}
      WHERE ((${TIME} >= $1 AND ${TIME} < $2) OR (${TIME} >= $3 AND ${TIME} < $4)) AND i.id > $5
      ORDER BY i.id LIMIT $6`,
    [...contextParams(w), w.afterId, w.limit],
  );
  return rows.map(toItem);
}

function contextParams(w: ItemWindow & { marginMs: number }): (Date | string)[] {
  const after = w.until ? new Date(w.until.getTime() + w.marginMs) : "infinity";
  return [new Date(w.since.getTime() - w.marginMs), w.since, end(w), after];
}

/** A story as a replay needs to know it. */
export interface StoryRef {
  id: number;
  key: string;
  /** Set when it was merged into another story. */
  mergedIntoId: number | null;
  /** The story its copies live in now (itself unless merged): id and key. */
  survivorId: number;
  survivorKey: string;
  /** It has at least one item. */
  hasMembers: boolean;
}

/** The stories with these keys (absent keys are left out). */
export async function storiesByKey(db: Db, keys: readonly string[]): Promise<Map<string, StoryRef>> {
  const out = new Map<string, StoryRef>();
  if (keys.length === 0) return out;
  const { rows } = await db.$client.query<{
    id: string; key: string; merged_into_id: string | null; survivor_id: string; survivor_key: string; has_members: boolean;
  }>(
    `WITH RECURSIVE chain AS (
       SELECT s.id AS start, s.id, s.key, s.merged_into_id, 0 AS depth FROM stories s WHERE s.key = ANY($1::text[])
       UNION ALL
       SELECT c.start, n.id, n.key, n.merged_into_id, c.depth + 1
         FROM chain c JOIN stories n ON n.id = c.merged_into_id WHERE c.depth < 64)
     SELECT s.id, s.key, s.merged_into_id, c.id AS survivor_id, c.key AS survivor_key,
            EXISTS (SELECT 1 FROM story_items si WHERE si.story_id = s.id) AS has_members
       FROM stories s JOIN chain c ON c.start = s.id AND c.merged_into_id IS NULL`,
    [keys],
  );
  for (const r of rows) {
    out.set(r.key, {
      id: Number(r.id), key: r.key, mergedIntoId: r.merged_into_id === null ? null : Number(r.merged_into_id),
      survivorId: Number(r.survivor_id), survivorKey: r.survivor_key, hasMembers: r.has_members,
    });
  }
  return out;
}

/** Which of these stories have items outside the window (those keep their story in a recluster). */
export async function storiesWithItemsOutside(db: Db, ids: readonly number[], w: ItemWindow): Promise<Set<number>> {
  const out = new Set<number>();
  for (let i = 0; i < ids.length; i += 5_000) {
    const { rows } = await db.$client.query<{ id: string }>(
      `SELECT sid AS id FROM unnest($1::bigint[]) AS sid
        WHERE EXISTS (SELECT 1 FROM story_items si JOIN items i ON i.id = si.item_id
                       WHERE si.story_id = sid AND NOT (${TIME} >= $2 AND ${TIME} < $3))`,
      [ids.slice(i, i + 5_000), w.since, end(w)],
    );
    for (const r of rows) out.add(Number(r.id));
  }
  return out;
}

/** The state one stored item should be in after a replay. */
export interface ItemChange {
  itemId: number;
  /** The story it belongs to: created when no story has this key; a merged story is followed to its survivor. */
  storyKey: string;
  /** Its match in that story (written only when it moves there). */
  distance: number;
  similarity: number;
  /** Its cleaned text and signed simhash, rewritten when they differ. */
  text: string;
  simhash: bigint;
}

export interface ApplyResult {
  /** Items moved to another story. */
  itemsMoved: number;
  /** Items whose text or simhash was rewritten. */
  itemsRewritten: number;
  storiesCreated: number;
  /** Stories whose aggregates changed (copies, outlets, times, canonical copy). */
  storiesUpdated: number;
  /** Stories left without items and marked merged into the story that took them. */
  storiesMerged: number;
  /** Stories left without items (merged ones included). */
  storiesEmptied: number;
}

const arr = <T, U>(xs: readonly T[], f: (x: T) => U): U[] => xs.map(f);

/**
 * Puts a batch of stored items in the given stories with the given text, in one
 * transaction: missing stories are created, memberships moved (story_items keeps
 * one row per item), text and simhash rewritten where they differ, and every story
 * that lost or gained an item, or whose item changed, recomputed. A story left
 * without items is marked merged into `mergeInto.get(its id)` when that names a
 * story (the merge convention: merged_into_id, counts zeroed, a story_merges row),
 * and otherwise keeps no counts. Rows are written only when a value changes.
 */
export async function applyItemChanges(
  db: Db,
  changes: readonly ItemChange[],
  opts: { mergeInto?: ReadonlyMap<number, string> } = {},
): Promise<ApplyResult> {
  const result: ApplyResult = {
    itemsMoved: 0, itemsRewritten: 0, storiesCreated: 0, storiesUpdated: 0, storiesMerged: 0, storiesEmptied: 0,
  };
  if (changes.length === 0) return result;
  await inTransaction(db, (client) => applyInTx(client, [...changes].sort((a, b) => a.itemId - b.itemId), opts.mergeInto ?? new Map(), result));
  return result;
}

async function applyInTx(
  client: PoolClient,
  changes: ItemChange[],
  mergeInto: ReadonlyMap<number, string>,
  result: ApplyResult,
): Promise<void> {
  const targetKeys = [...new Set([...changes.map((c) => c.storyKey), ...mergeInto.values()])].sort();
  // Only keys no story has yet reach the INSERT (a conflicting row would still take an id).
  const created = await client.query(
    `INSERT INTO stories (key, title, first_seen_at, last_seen_at)
     SELECT k, '', now(), now() FROM unnest($1::text[]) AS k
      WHERE NOT EXISTS (SELECT 1 FROM stories s WHERE s.key = k)
     ON CONFLICT (key) DO NOTHING`,
    [[...new Set(changes.map((c) => c.storyKey))].sort()],
  );
  result.storiesCreated = created.rowCount ?? 0;
  const current = await client.query<{ item_id: string; story_id: string }>(
    `SELECT item_id, story_id FROM story_items WHERE item_id = ANY($1::bigint[]) ORDER BY item_id FOR UPDATE`,
    [arr(changes, (c) => c.itemId)],
  );
  const storyOf = new Map(current.rows.map((r) => [Number(r.item_id), Number(r.story_id)]));
  // Lock every story involved in id order (as saveAssignments does), following merges.
  const locked = await client.query<{ id: string; key: string; merged_into_id: string | null }>(
    `SELECT id, key, merged_into_id FROM stories WHERE key = ANY($1::text[]) OR id = ANY($2::bigint[]) ORDER BY id FOR UPDATE`,
    [targetKeys, [...new Set(storyOf.values())]],
  );
  const byKey = new Map(locked.rows.map((r) => [r.key, Number(r.id)]));
  const mergedInto = new Map(locked.rows.filter((r) => r.merged_into_id).map((r) => [Number(r.id), Number(r.merged_into_id)]));
  if (mergedInto.size) {
    const { rows } = await client.query<{ id: string; merged_into_id: string | null }>(
      `WITH RECURSIVE chain AS (
         SELECT id, merged_into_id, 0 AS depth FROM stories WHERE id = ANY($1::bigint[])
         UNION ALL
         SELECT s.id, s.merged_into_id, c.depth + 1 FROM chain c JOIN stories s ON s.id = c.merged_into_id WHERE c.depth < 64)
       SELECT DISTINCT id, merged_into_id FROM chain ORDER BY id`,
      [[...mergedInto.values()]],
    );
    for (const r of rows) if (r.merged_into_id) mergedInto.set(Number(r.id), Number(r.merged_into_id));
  }
  const survivor = (id: number) => {
    for (let i = 0; i < 64 && mergedInto.has(id); i++) id = mergedInto.get(id)!;
    return id;
  };
  const target = (key: string) => survivor(byKey.get(key)!);

  const moves = changes.filter((c) => storyOf.has(c.itemId) && storyOf.get(c.itemId) !== target(c.storyKey));
  if (moves.length) {
    const moved = await client.query(
      `UPDATE story_items si SET story_id = c.story_id, distance = c.distance, similarity = c.similarity
         FROM unnest($1::bigint[], $2::bigint[], $3::int[], $4::real[]) AS c(item_id, story_id, distance, similarity)
        WHERE si.item_id = c.item_id AND si.story_id <> c.story_id`,
      [arr(moves, (c) => c.itemId), arr(moves, (c) => target(c.storyKey)), arr(moves, (c) => c.distance), arr(moves, (c) => c.similarity)],
    );
    result.itemsMoved = moved.rowCount ?? 0;
  }
  const rewritten = await client.query<{ id: string }>(
    `UPDATE items i SET text = c.text, simhash = c.simhash
       FROM unnest($1::bigint[], $2::text[], $3::bigint[]) AS c(id, text, simhash)
      WHERE i.id = c.id AND (i.text, i.simhash) IS DISTINCT FROM (c.text, c.simhash)
      RETURNING i.id`,
    [arr(changes, (c) => c.itemId), arr(changes, (c) => c.text), arr(changes, (c) => c.simhash.toString())],
  );
  result.itemsRewritten = rewritten.rowCount ?? 0;

  const rewrittenIds = new Set(rewritten.rows.map((r) => Number(r.id)));
  const touched = new Set<number>();
  for (const c of changes) {
    const from = storyOf.get(c.itemId);
    if (from === undefined) continue;
    if (from !== target(c.storyKey)) {
      touched.add(from);
      touched.add(target(c.storyKey));
    } else if (rewrittenIds.has(c.itemId)) {
      touched.add(from);
    }
  }
  // Stories that lost items and have none left: merged into the story that took them, or empty.
  const losers = [...new Set(moves.map((c) => storyOf.get(c.itemId)!))];
  if (losers.length) {
    const empty = await client.query<{ id: string }>(
      `SELECT sid AS id FROM unnest($1::bigint[]) AS sid
        WHERE NOT EXISTS (SELECT 1 FROM story_items si WHERE si.story_id = sid) ORDER BY sid`,
      [losers],
    );
    result.storiesEmptied = empty.rowCount ?? 0;
    for (const r of empty.rows) {
      const from = Number(r.id);
      const key = mergeInto.get(from);
      const into = key === undefined || !byKey.has(key) ? undefined : target(key);
      if (into === undefined || into === from) continue;
      const res = await client.query(
        `UPDATE stories SET merged_into_id = $2, copies = 0, outlets = 0, updated_at = now()
          WHERE id = $1 AND merged_into_id IS NULL`,
        [from, into],
      );
      if (!res.rowCount) continue;
      result.storiesMerged++;
      touched.delete(from);
      await client.query(
        `INSERT INTO story_merges (from_story_id, into_story_id, item_id) VALUES ($1, $2, NULL)
         ON CONFLICT (from_story_id) DO NOTHING`,
        [from, into],
      );
    }
  }
  result.storiesUpdated = await recomputeStories(client, [...touched].sort((a, b) => a - b).map(String));
}
