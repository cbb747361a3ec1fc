import { asc, desc, eq, getTableColumns, inArray, sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import { feeds, fetches } from "../schema.ts";

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
