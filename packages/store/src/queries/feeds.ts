import { asc, desc, eq, getTableColumns, inArray, sql } from "drizzle-orm";
import type { PoolClient } from "pg";
import type { Db } from "../client.ts";
import { feeds, fetches } from "../schema.ts";
import { deleteItemsInTx, deleteStoryTrees } from "./stories.ts";
import { inTransaction, READ_ONLY_SNAPSHOT } from "./transaction.ts";

export type Feed = typeof feeds.$inferSelect;

export interface AddFeedResult {
  feed: Feed;
  created: boolean;
}

/** Adds a feed by URL; an existing URL is returned unchanged (created: false). */
export async function addFeed(
  db: Db,
  params: { url: string; title?: string | null; fullText?: boolean },
): Promise<AddFeedResult> {
  const inserted = await db
    .insert(feeds)
    .values({ url: params.url, title: params.title ?? null, fullText: params.fullText ?? false })
    .onConflictDoNothing({ target: feeds.url })
    .returning();
  if (inserted[0]) return { feed: inserted[0], created: true };
  const existing = await db.select().from(feeds).where(eq(feeds.url, params.url));
  return { feed: existing[0]!, created: false };
}

export async function listFeeds(db: Db): Promise<Feed[]> {
  return db.select().from(feeds).orderBy(asc(feeds.id));
}

export async function getFeed(db: Db, id: number): Promise<Feed | undefined> {
  const rows = await db.select().from(feeds).where(eq(feeds.id, id));
  return rows[0];
}

/**
 * Loads feeds by id for concurrent polls: ids asked for in the same turn of the
 * event loop are read with one query.
 */
export class FeedLoader {
  private waiting = new Map<number, ((f: Feed | undefined) => void)[]>();
  private failing: ((e: unknown) => void)[] = [];
  private scheduled = false;

  constructor(private readonly db: Db) {}

  load(id: number): Promise<Feed | undefined> {
    return new Promise((resolve, reject) => {
      this.waiting.set(id, [...(this.waiting.get(id) ?? []), resolve]);
      this.failing.push(reject);
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.run());
      }
    });
  }

  private run(): void {
    const waiting = this.waiting;
    const failing = this.failing;
    this.waiting = new Map();
    this.failing = [];
    this.scheduled = false;
    this.db
      .select()
      .from(feeds)
      .where(inArray(feeds.id, [...waiting.keys()]))
      .then(
        (rows) => {
          const byId = new Map(rows.map((r) => [r.id, r]));
          for (const [id, fns] of waiting) for (const fn of fns) fn(byId.get(id));
        },
        (err: unknown) => failing.forEach((fn) => fn(err)),
      );
  }
}

/** A feed by id ("12") or by URL. */
export async function findFeed(db: Db, idOrUrl: string): Promise<Feed | undefined> {
  if (/^\d+$/.test(idOrUrl)) return getFeed(db, Number(idOrUrl));
  const rows = await db.select().from(feeds).where(eq(feeds.url, idOrUrl));
  return rows[0];
}

export type FetchRow = typeof fetches.$inferSelect;

/** The feed's most recent fetches, newest first (without the archived bodies). */
export async function recentFetches(db: Db, feedId: number, limit = 10): Promise<Omit<FetchRow, "bodyGzip">[]> {
  const { bodyGzip: _omit, ...cols } = getTableColumns(fetches);
  return db.select(cols).from(fetches).where(eq(fetches.feedId, feedId)).orderBy(desc(fetches.startedAt), desc(fetches.id)).limit(limit);
}

export async function countFeeds(db: Db): Promise<number> {
  const rows = await db.select({ n: sql<number>`count(*)::int` }).from(feeds);
  return rows[0]?.n ?? 0;
}

export interface ClaimedFeed {
  id: number;
  url: string;
  /** When it was due (its next_check_at before the claim). */
  dueAt: Date;
}

/**
 * Claims up to `limit` active feeds whose next check is due, pushing their
 * next_check_at forward by `leaseMs` so that no other scheduler claims them
 * while the fetch is queued (the fetch itself sets the real next check).
 */
export async function claimDueFeeds(
  db: Db,
  params: { limit: number; leaseMs: number; now?: Date },
): Promise<ClaimedFeed[]> {
  const now = params.now ?? new Date();
  const lease = new Date(now.getTime() + params.leaseMs);
  const { rows } = await db.$client.query<{ id: string; url: string; due_at: Date }>(
    `WITH due AS (SELECT id, next_check_at FROM feeds
                   WHERE state = 'active' AND next_check_at <= $1
                   ORDER BY next_check_at
                   LIMIT $2
                   FOR UPDATE SKIP LOCKED)
     UPDATE feeds f SET next_check_at = $3
       FROM due WHERE f.id = due.id
     RETURNING f.id, f.url, due.next_check_at AS due_at`,
    [now, params.limit, lease],
  );
  return rows.map((r) => ({ id: Number(r.id), url: r.url, dueAt: r.due_at }));
}

/** Makes every active feed due now (used by `run --once` and tests). */
export async function makeAllFeedsDue(db: Db, now = new Date()): Promise<number> {
  const res = await db.$client.query(`UPDATE feeds SET next_check_at = $1 WHERE state = 'active'`, [now]);
  return res.rowCount ?? 0;
}

/** Stops polling a feed (state paused); its items and stories stay. Returns false when it was not active. */
export async function pauseFeed(db: Db, id: number): Promise<boolean> {
  const { rowCount } = await db.$client.query(
    `UPDATE feeds SET state = 'paused', updated_at = now() WHERE id = $1 AND state = 'active'`,
    [id],
  );
  return (rowCount ?? 0) > 0;
}

/** Polls a paused or gone feed again, from now, with its error count cleared. Returns false when it was active. */
export async function resumeFeed(db: Db, id: number, now = new Date()): Promise<boolean> {
  const { rowCount } = await db.$client.query(
    `UPDATE feeds SET state = 'active', next_check_at = $2, error_count = 0, error_class = NULL, last_error = NULL,
                      updated_at = now()
      WHERE id = $1 AND state <> 'active'`,
    [id, now],
  );
  return (rowCount ?? 0) > 0;
}

/** Clears a feed's error state and makes it due now (the backoff starts over). Returns false when it had none. */
export async function resetFeedErrors(db: Db, id: number, now = new Date()): Promise<boolean> {
  const { rowCount } = await db.$client.query(
    `UPDATE feeds SET error_count = 0, error_class = NULL, last_error = NULL, next_check_at = LEAST(next_check_at, $2),
                      updated_at = now()
      WHERE id = $1 AND (error_count > 0 OR error_class IS NOT NULL)`,
    [id, now],
  );
  return (rowCount ?? 0) > 0;
}

export interface RemoveFeedResult {
  feedId: number;
  url: string;
  /** Items deleted (their memberships went with them). */
  items: number;
  /** Fetch history rows deleted (archived bodies included). */
  fetches: number;
  /** Stories that lost copies of this feed but kept others: aggregates and canonical copy recomputed. */
  storiesRecomputed: number;
  /** Stories left without copies, deleted, with the stories that had been merged into them. */
  storiesDeleted: number;
  /** Transactions used (0 in a dry run). */
  batches: number;
}

export interface RemoveFeedOptions {
  /** Items per transaction (default 1,000); fetch rows are deleted 5 times as many per statement. */
  batchSize?: number;
  /** Count what would be removed; change nothing. */
  dryRun?: boolean;
  /** Called (awaited) after every transaction with the running totals. */
  onProgress?: (p: RemoveFeedResult) => void | Promise<void>;
}

/** Runs `fn` in a transaction; runs it again (4 times at most) when Postgres broke a deadlock with a dedupe writer. */
const inTx = <T>(db: Db, fn: (client: PoolClient) => Promise<T>): Promise<T> => inTransaction(db, fn, { deadlockRetries: 4 });

/**
 * Deletes the given items of one feed with their memberships, inside the caller's
 * transaction (deleteItemsInTx: their stories locked in id order, as saveAssignments
 * locks them, and recomputed by its own code); those left without copies are deleted
 * with the stories merged into them (as `prune --items` does). Returns what it did,
 * and for each story touched whether it kept copies.
 */
async function deleteItemsOf(client: PoolClient, ids: readonly string[]): Promise<{ items: number; storiesDeleted: number; kept: Map<string, boolean> }> {
  const { items, stories } = await deleteItemsInTx(client, ids);
  const storiesDeleted = await deleteStoryTrees(client, stories.filter((s) => s.empty).map((s) => s.id));
  return { items, storiesDeleted, kept: new Map(stories.map((s) => [s.id, s.kept])) };
}

/**
 * Removes a feed with everything it brought: its items (and their memberships), its
 * fetch history, and the stories its items leave without copies (the others are
 * recomputed). Returns undefined when there is no such feed.
 *
 * Safe for feeds of any size: the feed is paused first (the scheduler stops claiming
 * it), its items go in transactions of `batchSize` items, its fetches in short
 * statements, and a last transaction locks the feed row (a dedupe batch still saving
 * items of it waits, then fails on the foreign key), deletes what arrived meanwhile and
 * the feed itself. Every transaction leaves the stories consistent; an interrupted
 * removal leaves a paused feed with fewer items: running it again finishes it.
 */
export async function removeFeed(db: Db, id: number, opts: RemoveFeedOptions = {}): Promise<RemoveFeedResult | undefined> {
  const feed = (await db.$client.query<{ url: string }>(`SELECT url FROM feeds WHERE id = $1`, [id])).rows[0];
  if (!feed) return undefined;
  if (opts.dryRun) return countFeedRemoval(db, id, feed.url);
  const n = opts.batchSize ?? 1_000;
  const total: RemoveFeedResult = { feedId: id, url: feed.url, items: 0, fetches: 0, storiesRecomputed: 0, storiesDeleted: 0, batches: 0 };
  const kept = new Map<string, boolean>();
  const step = async (b: { items?: number; fetches?: number; storiesDeleted?: number; kept?: Map<string, boolean> }) => {
    total.items += b.items ?? 0;
    total.fetches += b.fetches ?? 0;
    total.storiesDeleted += b.storiesDeleted ?? 0;
    for (const [k, v] of b.kept ?? []) kept.set(k, v);
    total.storiesRecomputed = [...kept.values()].filter(Boolean).length;
    total.batches++;
    await opts.onProgress?.({ ...total });
  };
  await db.$client.query(`UPDATE feeds SET state = 'paused', updated_at = now() WHERE id = $1 AND state = 'active'`, [id]);

  // Items, in (first_seen_at, id) order through items_feed_first_seen_idx; cursor exact to the microsecond.
  let cursor = { ts: "-infinity", id: "0" };
  for (;;) {
    const batch = await inTx(db, async (client) => {
      const { rows } = await client.query<{ id: string; ts: string }>(
        `SELECT id::text, first_seen_at::text AS ts FROM items
          WHERE feed_id = $1 AND first_seen_at >= $2::timestamptz AND (first_seen_at, id) > ($2::timestamptz, $3::bigint)
          ORDER BY first_seen_at, id LIMIT $4 FOR UPDATE`,
        [id, cursor.ts, cursor.id, n],
      );
      const done = await deleteItemsOf(client, rows.map((r) => r.id));
      const last = rows[rows.length - 1];
      return { ...done, found: rows.length, last: last ? { ts: last.ts, id: last.id } : cursor };
    });
    if (batch.found === 0) break;
    await step(batch);
    if (batch.found < n) break;
    cursor = batch.last;
  }
  // Fetch history: short statements through fetches_feed_started_idx.
  for (;;) {
    const del = await db.$client.query(
      `DELETE FROM fetches WHERE id IN (SELECT id FROM fetches WHERE feed_id = $1 LIMIT $2)`,
      [id, n * 5],
    );
    const rows = del.rowCount ?? 0;
    if (rows === 0) break;
    await step({ fetches: rows });
    if (rows < n * 5) break;
  }
  // The feed itself, with whatever arrived since (items saved by a dedupe batch already under way).
  const last = await inTx(db, async (client) => {
    const locked = await client.query(`SELECT id FROM feeds WHERE id = $1 FOR UPDATE`, [id]);
    if (!locked.rowCount) return { items: 0, fetches: 0, storiesDeleted: 0, kept: new Map<string, boolean>() };
    const out = { items: 0, fetches: 0, storiesDeleted: 0, kept: new Map<string, boolean>() };
    for (;;) {
      const { rows } = await client.query<{ id: string }>(`SELECT id::text FROM items WHERE feed_id = $1 LIMIT $2 FOR UPDATE`, [id, n]);
      if (rows.length === 0) break;
      const done = await deleteItemsOf(client, rows.map((r) => r.id));
      out.items += done.items;
      out.storiesDeleted += done.storiesDeleted;
      for (const [k, v] of done.kept) out.kept.set(k, v);
    }
    const f = await client.query(`DELETE FROM fetches WHERE feed_id = $1`, [id]);
    out.fetches = f.rowCount ?? 0;
    await client.query(`DELETE FROM feeds WHERE id = $1`, [id]);
    return out;
  });
  await step(last);
  // A story recomputed in an early batch may have been deleted by a later one.
  total.storiesRecomputed = [...kept.values()].filter(Boolean).length;
  return total;
}

/** What removeFeed would remove, counted in one read-only transaction. */
async function countFeedRemoval(db: Db, id: number, url: string): Promise<RemoveFeedResult> {
  return inTransaction(db, async (client) => {
    const { rows } = await client.query<{ items: number; fetches: number; recomputed: number; deleted: number }>(
      `WITH RECURSIVE hit AS (
         SELECT DISTINCT si.story_id FROM items i JOIN story_items si ON si.item_id = i.id WHERE i.feed_id = $1),
       kept AS (
         SELECT h.story_id, EXISTS (SELECT 1 FROM story_items s2 JOIN items i2 ON i2.id = s2.item_id
                                     WHERE s2.story_id = h.story_id AND i2.feed_id <> $1) AS keeps
           FROM hit h),
       tree(id) AS (
         SELECT story_id FROM kept WHERE NOT keeps
         UNION
         SELECT s.id FROM stories s JOIN tree t ON s.merged_into_id = t.id)
       SELECT (SELECT count(*) FROM items WHERE feed_id = $1)::int AS items,
              (SELECT count(*) FROM fetches WHERE feed_id = $1)::int AS fetches,
              (SELECT count(*) FROM kept WHERE keeps)::int AS recomputed,
              (SELECT count(*) FROM tree)::int AS deleted`,
      [id],
    );
    const r = rows[0]!;
    return { feedId: id, url, items: r.items, fetches: r.fetches, storiesRecomputed: r.recomputed, storiesDeleted: r.deleted, batches: 0 };
  }, { begin: READ_ONLY_SNAPSHOT });
}
