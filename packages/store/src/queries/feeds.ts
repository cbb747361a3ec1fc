import { asc, eq, sql } from "drizzle-orm";
import type { Db } from "../client.ts";
import { feeds } from "../schema.ts";

export type Feed = typeof feeds.$inferSelect;

export interface AddFeedResult {
  feed: Feed;
  created: boolean;
}

/** Adds a feed by URL; an existing URL is returned unchanged (created: false). */
export async function addFeed(db: Db, params: { url: string; title?: string | null }): Promise<AddFeedResult> {
  const inserted = await db
    .insert(feeds)
    .values({ url: params.url, title: params.title ?? null })
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

export async function countFeeds(db: Db): Promise<number> {
  const rows = await db.select({ n: sql<number>`count(*)::int` }).from(feeds);
  return rows[0]?.n ?? 0;
}

export interface ClaimedFeed {
  id: number;
  url: string;
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
  const { rows } = await db.$client.query<{ id: string; url: string }>(
    `UPDATE feeds SET next_check_at = $3
      WHERE id IN (SELECT id FROM feeds
                    WHERE state = 'active' AND next_check_at <= $1
                    ORDER BY next_check_at
                    LIMIT $2
                    FOR UPDATE SKIP LOCKED)
      RETURNING id, url`,
    [now, params.limit, lease],
  );
  return rows.map((r) => ({ id: Number(r.id), url: r.url }));
}

/** Makes every active feed due now (used by `run --once` and tests). */
export async function makeAllFeedsDue(db: Db, now = new Date()): Promise<number> {
  const res = await db.$client.query(`UPDATE feeds SET next_check_at = $1 WHERE state = 'active'`, [now]);
  return res.rowCount ?? 0;
}
