import type pg from "pg";

/** The analytics rollups (materialized views of the last 7 days), in the order they refresh. */
export const ROLLUPS = ["analytics.outlet_delay_7d", "analytics.feed_duplicates_7d", "analytics.outlet_pairs_7d"] as const;

/** One advisory lock for every process: two schedulers never refresh at once. */
export const REFRESH_LOCK = 0x6e66_7266; // "nfrf"

export interface RefreshResult {
  /** False when another session held the refresh lock: nothing was done. */
  refreshed: boolean;
  /** Milliseconds each rollup took, by name. */
  ms: Record<string, number>;
}

/**
 * Recomputes the analytics rollups. CONCURRENTLY: readers keep the previous rows
 * until each new set is in place, and writers are not blocked. Skips (refreshed:
 * false) when another process is refreshing.
 */
export async function refreshRollups(pool: pg.Pool): Promise<RefreshResult> {
  const client = await pool.connect();
  const ms: Record<string, number> = {};
  try {
    const { rows } = await client.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1) AS ok", [REFRESH_LOCK]);
    if (!rows[0]!.ok) return { refreshed: false, ms };
    try {
      for (const name of ROLLUPS) {
        const t0 = performance.now();
        await client.query(`REFRESH MATERIALIZED VIEW CONCURRENTLY ${name}`);
        ms[name] = Math.round(performance.now() - t0);
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock($1)", [REFRESH_LOCK]);
    }
    return { refreshed: true, ms };
  } finally {
    client.release();
  }
}
