/**
 * What `newsfeed status` shows from Postgres, read in one read-only snapshot with
 * indexed queries only: feeds by state (the feeds table is small), stories, items
 * and fetches of the last hour and day by their time indexes, and the newest fetch
 * errors among a bounded number of the newest fetches.
 */
import type { Db } from "../client.ts";

export interface FeedStateCounts {
  total: number;
  /** Feeds per state: active, paused and gone always present (0 when none), any other state found too. */
  byState: Record<string, number>;
  /** Active feeds whose last fetch failed (error_count > 0): they are retried with backoff. */
  failing: number;
}

export interface RecentFetchError {
  fetchId: number;
  feedId: number;
  url: string;
  startedAt: Date;
  /** HTTP status, when the server answered. */
  status: number | null;
  errorClass: string | null;
  /** The stored message, cut to `errorChars` characters. */
  error: string | null;
}

export interface StoreStatus {
  /** The instant the windows below end at. */
  at: Date;
  feeds: FeedStateCounts;
  /** Live stories (not merged away, with copies) by when their first copy was seen. */
  stories: { lastHour: number; lastDay: number };
  /** Items by when they were first seen. */
  items: { lastHour: number; lastDay: number };
  /** Fetches started in the last hour, and how many of them failed. */
  fetches: { lastHour: number; errorsLastHour: number };
  /** Newest failed fetches first. */
  recentErrors: RecentFetchError[];
  /** How the recent errors were looked for: within the last `windowHours`, among at most the `scanLimit` newest fetches. */
  errorSearch: { windowHours: number; scanLimit: number };
}

export interface StoreStatusOptions {
  now?: Date;
  /** How many recent errors (default 10). */
  errorLimit?: number;
  /** Only errors this recent (default 24 h). */
  errorWindowMs?: number;
  /** Look at most at this many of the newest fetches for errors (default 50,000), so that a quiet error log costs no full scan. */
  errorScanLimit?: number;
  /** Error messages are cut to this many characters (default 300). */
  errorChars?: number;
}

const HOUR = 3_600_000;

export async function storeStatus(db: Db, opts: StoreStatusOptions = {}): Promise<StoreStatus> {
  const now = opts.now ?? new Date();
  const hourAgo = new Date(now.getTime() - HOUR);
  const dayAgo = new Date(now.getTime() - 24 * HOUR);
  const errorWindowMs = opts.errorWindowMs ?? 24 * HOUR;
  const scanLimit = opts.errorScanLimit ?? 50_000;
  const client = await db.$client.connect();
  try {
    await client.query("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
    const feeds = await client.query<{ state: string; n: number; failing: number }>(
      `SELECT state, count(*)::int AS n, count(*) FILTER (WHERE error_count > 0 AND state = 'active')::int AS failing
         FROM feeds GROUP BY state ORDER BY state`,
    );
    // stories_first_seen_live_idx (partial: merged_into_id IS NULL AND copies > 0).
    const stories = await client.query<{ hour: number; day: number }>(
      `SELECT count(*) FILTER (WHERE first_seen_at >= $1)::int AS hour, count(*)::int AS day
         FROM stories WHERE first_seen_at >= $2 AND first_seen_at <= $3 AND merged_into_id IS NULL AND copies > 0`,
      [hourAgo, dayAgo, now],
    );
    // items_first_seen_idx.
    const items = await client.query<{ hour: number; day: number }>(
      `SELECT count(*) FILTER (WHERE first_seen_at >= $1)::int AS hour, count(*)::int AS day
         FROM items WHERE first_seen_at >= $2 AND first_seen_at <= $3`,
      [hourAgo, dayAgo, now],
    );
    // fetches_started_idx.
    const fetches = await client.query<{ n: number; errors: number }>(
      `SELECT count(*)::int AS n, count(*) FILTER (WHERE outcome = 'error')::int AS errors
         FROM fetches WHERE started_at >= $1 AND started_at <= $2`,
      [hourAgo, now],
    );
    // fetches_started_idx backwards, stopping after scanLimit rows however rare errors are.
    const errors = await client.query<{
      id: string; feed_id: string; url: string; started_at: Date; status: number | null; error_class: string | null; error: string | null;
    }>(
      `SELECT f.id, f.feed_id, fd.url, f.started_at, f.status, f.error_class, left(f.error, $5) AS error
         FROM (SELECT id, feed_id, started_at, status, outcome, error_class, error FROM fetches
                WHERE started_at >= $1 AND started_at <= $2
                ORDER BY started_at DESC LIMIT $3) f
         JOIN feeds fd ON fd.id = f.feed_id
        WHERE f.outcome = 'error'
        ORDER BY f.started_at DESC, f.id DESC
        LIMIT $4`,
      [new Date(now.getTime() - errorWindowMs), now, scanLimit, opts.errorLimit ?? 10, opts.errorChars ?? 300],
    );
    await client.query("COMMIT");
    const byState: Record<string, number> = { active: 0, paused: 0, gone: 0 };
    let total = 0;
    let failing = 0;
    for (const r of feeds.rows) {
      byState[r.state] = r.n;
      total += r.n;
      failing += r.failing;
    }
    return {
      at: now,
      feeds: { total, byState, failing },
      stories: { lastHour: stories.rows[0]!.hour, lastDay: stories.rows[0]!.day },
      items: { lastHour: items.rows[0]!.hour, lastDay: items.rows[0]!.day },
      fetches: { lastHour: fetches.rows[0]!.n, errorsLastHour: fetches.rows[0]!.errors },
      recentErrors: errors.rows.map((r) => ({
        fetchId: Number(r.id), feedId: Number(r.feed_id), url: r.url, startedAt: r.started_at, status: r.status,
        errorClass: r.error_class, error: r.error,
      })),
      errorSearch: { windowHours: errorWindowMs / HOUR, scanLimit },
    };
  } catch (err) {
    await client.query("ROLLBACK").catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
