/**
 * Retention: deletes old fetch history (and archived bodies) and, when asked, old
 * items and the stories they leave without copies. Every batch is one short
 * transaction that locks only the rows it removes (items and stories with SKIP
 * LOCKED: a row a writer holds is left for the next run), so writers never wait
 * for more than a batch.
 */
import type { PoolClient } from "pg";
import type { Db } from "../client.ts";
import { deleteItemsInTx, deleteStoryTrees } from "./stories.ts";
import { inTransaction, READ_ONLY_SNAPSHOT } from "./transaction.ts";

export interface PruneOptions {
  /** Fetches started before this are deleted, with their archived bodies. */
  before: Date;
  /** Archived bodies of the fetches kept that started before this are cleared (absent: none). */
  bodiesBefore?: Date;
  /** Also delete items last seen before `before`, then the stories left without copies. */
  items?: boolean;
  /** Rows per statement (default 2,000). */
  batchSize?: number;
  /** Count what would be removed; change nothing. */
  dryRun?: boolean;
  /** Called after every batch (awaited) with the running totals. */
  onProgress?: (p: PruneProgress) => void | Promise<void>;
}

export interface PruneResult {
  fetchesDeleted: number;
  /** Archived bodies removed: those of the deleted fetches and those cleared on kept ones. */
  bodiesRemoved: number;
  /** Their size (gzip bytes). */
  bodyBytes: number;
  itemsDeleted: number;
  /** Stories that lost copies but kept some: their aggregates and canonical copy recomputed. */
  storiesUpdated: number;
  /** Stories left without copies (with the stories merged into them). */
  storiesDeleted: number;
  batches: number;
}

export interface PruneProgress extends PruneResult {
  phase: "fetches" | "bodies" | "items" | "stories";
}

/** Serializes the item and story batches of concurrent prunes (they lock stories). */
const PRUNE_LOCK = 0x6e66_7072;

export async function prune(db: Db, opts: PruneOptions): Promise<PruneResult> {
  if (opts.dryRun) return countPrunable(db, opts);
  const n = opts.batchSize ?? 2_000;
  const total: PruneResult = {
    fetchesDeleted: 0, bodiesRemoved: 0, bodyBytes: 0, itemsDeleted: 0, storiesUpdated: 0, storiesDeleted: 0, batches: 0,
  };
  const step = async (phase: PruneProgress["phase"], add: Partial<PruneResult>) => {
    for (const [k, v] of Object.entries(add) as [keyof PruneResult, number][]) total[k] += v;
    total.batches++;
    await opts.onProgress?.({ phase, ...total });
  };
  await deleteFetches(db, opts.before, n, (b) => step("fetches", { fetchesDeleted: b.rows, bodiesRemoved: b.bodies, bodyBytes: b.bodyBytes }));
  if (opts.bodiesBefore && opts.bodiesBefore > opts.before) {
    await walkFetches(db, { from: opts.before, before: opts.bodiesBefore, action: "clear" }, n, (b) =>
      step("bodies", { bodiesRemoved: b.bodies, bodyBytes: b.bodyBytes }),
    );
  }
  if (opts.items) {
    await deleteItems(db, opts.before, n, (b) => {
      total.storiesUpdated = b.storiesKept;
      return step("items", { itemsDeleted: b.itemsDeleted });
    });
    await deleteEmptyStories(db, opts.before, n, (deleted) => step("stories", { storiesDeleted: deleted }));
  }
  return total;
}

interface FetchBatch {
  rows: number;
  bodies: number;
  bodyBytes: number;
}

/** Deletes fetches started before `before`, `batchSize` rows a statement; returns the totals. */
export function deleteFetches(
  db: Db,
  before: Date,
  batchSize: number,
  onBatch?: (b: FetchBatch) => void | Promise<void>,
): Promise<FetchBatch> {
  return walkFetches(db, { from: "-infinity", before, action: "delete" }, batchSize, onBatch);
}

/**
 * Deletes the fetches started in [from, before) (action "delete"), or clears their
 * archived bodies ("clear"), `batchSize` rows a statement: the scheduler's statement
 * since the start (a scan that stops at the batch's last row). Writers only insert
 * fetches, so no writer waits for these row locks and none holds one we would wait
 * for: no SKIP LOCKED here. (Walking the primary key in id order, with a pass feed by
 * feed through (feed_id, started_at) for rows written out of order, was measured too:
 * no faster in total, and slower when few rows are old.)
 */
async function walkFetches(
  db: Db,
  m: { from: Date | "-infinity"; before: Date; action: "delete" | "clear" },
  batchSize: number,
  onBatch?: (b: FetchBatch) => void | Promise<void>,
): Promise<FetchBatch> {
  const where = `started_at >= $1::timestamptz AND started_at < $2${m.action === "clear" ? " AND body_gzip IS NOT NULL" : ""}`;
  const act =
    m.action === "delete"
      ? `DELETE FROM fetches f USING batch b WHERE f.id = b.id RETURNING b.bytes`
      : `UPDATE fetches f SET body_gzip = NULL FROM batch b WHERE f.id = b.id RETURNING b.bytes`;
  const total = { rows: 0, bodies: 0, bodyBytes: 0 };
  for (;;) {
    const { rows } = await db.$client.query<{ n: number; bodies: number; bytes: string }>(
      `WITH batch AS (SELECT id, octet_length(body_gzip) AS bytes FROM fetches WHERE ${where} LIMIT $3),
            done AS (${act})
       SELECT count(*)::int AS n, count(bytes)::int AS bodies, COALESCE(sum(bytes), 0)::text AS bytes FROM done`,
      [m.from, m.before, batchSize],
    );
    const r = rows[0]!;
    if (r.n > 0) {
      const batch = { rows: r.n, bodies: r.bodies, bodyBytes: Number(r.bytes) };
      total.rows += batch.rows;
      total.bodies += batch.bodies;
      total.bodyBytes += batch.bodyBytes;
      await onBatch?.(batch);
    }
    if (r.n < batchSize) return total;
  }
}

/**
 * Sizes the batches of transactions that lock stories: deleting an item or a story makes
 * Postgres look up the rows that reference it (stories.canonical_item_id, merged_into_id,
 * story_merges), which have no index, so a batch costs in proportion to the stories table.
 * Batches start small, double while one takes under a quarter of the target, halve above it.
 */
class BatchSizer {
  size: number;
  constructor(
    private readonly max: number,
    private readonly targetMs = 500,
  ) {
    this.size = Math.min(max, 16);
  }
  /** Times `fn` (a batch of `this.size` rows) and sizes the next batch. */
  async time<T>(fn: (size: number) => Promise<T>): Promise<T> {
    const t0 = performance.now();
    const out = await fn(this.size);
    const ms = performance.now() - t0;
    if (ms > this.targetMs) this.size = Math.max(1, Math.floor(this.size / 2));
    else if (ms < this.targetMs / 4) this.size = Math.min(this.max, this.size * 2);
    return out;
  }
}

/**
 * Runs `fn` in a transaction holding the prune lock. A writer that locked a story first and
 * then waited for us: Postgres broke the tie; the batch is done again (4 times at most).
 */
function inBatchTx<T>(db: Db, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return inTransaction(db, async (client) => {
    await client.query("SELECT pg_advisory_xact_lock($1)", [PRUNE_LOCK]);
    return fn(client);
  }, { deadlockRetries: 4 });
}

/**
 * Deletes items last seen before `before` (their memberships go with them) in
 * batches of one transaction each: the items (skipping any a writer holds), then
 * deleteItemsInTx (their stories locked in id order, as saveAssignments locks them,
 * the delete, and the stories' aggregates recomputed by saveAssignments' own code).
 */
async function deleteItems(
  db: Db,
  before: Date,
  batchSize: number,
  onBatch: (b: { itemsDeleted: number; storiesKept: number }) => Promise<void>,
): Promise<void> {
  // The stories that lost copies, and whether they still have some (the last batch that touched one says).
  const touched = new Map<number, boolean>();
  const sizer = new BatchSizer(batchSize);
  // Cursor on (first_seen_at, id), exact to the microsecond (kept as text, not a JS Date).
  let cursor: { ts: string; id: string } = { ts: "-infinity", id: "0" };
  for (;;) {
    const batch = await sizer.time((size) => inBatchTx(db, async (client) => {
      // last_seen_at >= first_seen_at, so the first_seen index finds the candidates.
      const { rows } = await client.query<{ id: string; ts: string }>(
        `SELECT id, first_seen_at::text AS ts FROM items
          WHERE first_seen_at >= $1::timestamptz AND (first_seen_at, id) > ($1::timestamptz, $2::bigint)
            AND first_seen_at < $3 AND last_seen_at < $3
          ORDER BY first_seen_at, id LIMIT $4 FOR UPDATE SKIP LOCKED`,
        [cursor.ts, cursor.id, before, size],
      );
      if (rows.length === 0) return { found: 0, size, last: cursor, itemsDeleted: 0, kept: [] };
      const del = await deleteItemsInTx(client, rows.map((r) => r.id));
      const lastRow = rows[rows.length - 1]!;
      return { found: rows.length, size, last: { ts: lastRow.ts, id: lastRow.id }, itemsDeleted: del.items, kept: del.stories };
    }));
    if (batch.found === 0) return;
    for (const r of batch.kept) touched.set(Number(r.id), r.kept);
    let storiesKept = 0;
    for (const k of touched.values()) if (k) storiesKept++;
    await onBatch({ itemsDeleted: batch.itemsDeleted, storiesKept });
    if (batch.found < batch.size) return;
    cursor = batch.last;
  }
}

/**
 * Deletes stories last seen before `before` that have no copies and were not merged
 * into another, together with the stories merged into them (they point at them), in
 * batches; a story any part of which a writer holds is left for the next run.
 */
async function deleteEmptyStories(
  db: Db,
  before: Date,
  batchSize: number,
  onBatch: (deleted: number) => Promise<void>,
): Promise<void> {
  let cursor: { ts: string; id: string } = { ts: "-infinity", id: "0" };
  const sizer = new BatchSizer(batchSize);
  for (;;) {
    const batch = await sizer.time((size) => inBatchTx(db, async (client) => {
      const { rows } = await client.query<{ id: string; ts: string }>(
        `SELECT id, last_seen_at::text AS ts FROM stories s
          WHERE last_seen_at >= $1::timestamptz AND (last_seen_at, id) > ($1::timestamptz, $2::bigint)
            AND last_seen_at < $3 AND merged_into_id IS NULL
            AND NOT EXISTS (SELECT 1 FROM story_items si WHERE si.story_id = s.id)
          ORDER BY last_seen_at, id LIMIT $4 FOR UPDATE SKIP LOCKED`,
        [cursor.ts, cursor.id, before, size],
      );
      if (rows.length === 0) return { found: 0, size, last: cursor, deleted: 0 };
      const lastRow = rows[rows.length - 1]!;
      // Checked again under the lock: a copy added since the scan's snapshot keeps its story.
      const empty = await client.query<{ id: string }>(
        `SELECT id::text FROM stories s WHERE id = ANY($1::bigint[])
            AND NOT EXISTS (SELECT 1 FROM story_items si WHERE si.story_id = s.id)`,
        [rows.map((r) => r.id)],
      );
      const deleted = await deleteStoryTrees(client, empty.rows.map((r) => r.id), { skipLocked: true });
      return { found: rows.length, size, last: { ts: lastRow.ts, id: lastRow.id }, deleted };
    }));
    if (batch.found === 0) return;
    await onBatch(batch.deleted);
    if (batch.found < batch.size) return;
    cursor = batch.last;
  }
}

/** What `prune` would remove, counted in one read-only transaction. */
async function countPrunable(db: Db, opts: PruneOptions): Promise<PruneResult> {
  return inTransaction(db, async (client) => {
    const f = await client.query<{ n: number; bodies: number; bytes: string }>(
      `SELECT count(*)::int AS n, count(body_gzip)::int AS bodies, COALESCE(sum(octet_length(body_gzip)), 0)::text AS bytes
         FROM fetches WHERE started_at < $1`,
      [opts.before],
    );
    let bodies = { bodies: 0, bytes: "0" };
    if (opts.bodiesBefore && opts.bodiesBefore > opts.before) {
      bodies = (
        await client.query<{ bodies: number; bytes: string }>(
          `SELECT count(*)::int AS bodies, COALESCE(sum(octet_length(body_gzip)), 0)::text AS bytes
             FROM fetches WHERE started_at >= $1 AND started_at < $2 AND body_gzip IS NOT NULL`,
          [opts.before, opts.bodiesBefore],
        )
      ).rows[0]!;
    }
    let items = { items: 0, updated: 0, stories: 0 };
    if (opts.items) {
      items = (
        await client.query<{ items: number; updated: number; stories: number }>(
          `WITH RECURSIVE old AS (
             SELECT id FROM items WHERE first_seen_at < $1 AND last_seen_at < $1),
           hit AS (
             SELECT si.story_id, bool_or(o.id IS NULL) AS keeps
               FROM story_items si LEFT JOIN old o ON o.id = si.item_id
              WHERE si.story_id IN (SELECT story_id FROM story_items WHERE item_id IN (SELECT id FROM old))
              GROUP BY si.story_id),
           roots AS (
             SELECT s.id FROM stories s
              WHERE s.last_seen_at < $1 AND s.merged_into_id IS NULL
                AND NOT EXISTS (SELECT 1 FROM story_items si LEFT JOIN old o ON o.id = si.item_id
                                 WHERE si.story_id = s.id AND o.id IS NULL)),
           tree(id) AS (SELECT id FROM roots UNION SELECT s.id FROM stories s JOIN tree t ON s.merged_into_id = t.id)
           SELECT (SELECT count(*) FROM old)::int AS items,
                  (SELECT count(*) FROM hit WHERE keeps)::int AS updated,
                  (SELECT count(*) FROM tree)::int AS stories`,
          [opts.before],
        )
      ).rows[0]!;
    }
    const r = f.rows[0]!;
    return {
      fetchesDeleted: r.n, bodiesRemoved: r.bodies + bodies.bodies, bodyBytes: Number(r.bytes) + Number(bodies.bytes),
      itemsDeleted: items.items, storiesUpdated: items.updated, storiesDeleted: items.stories, batches: 0,
    };
  }, { begin: READ_ONLY_SNAPSHOT });
}
