/** bench:sql's check of its seed: the database as the app would have left it. */
import type pg from "pg";

/**
 * Checks the seed against the app's rules: every live story's aggregates and canonical copy
 * recomputed from its members, merged stories empty and recorded, every foreign key found.
 * Copy times never tie within a story (see mi), so the canonical rule's tie-breaks (longest
 * text, then lowest id) cannot apply: the check asserts it rather than reading every text.
 * Returns the lines to print; throws when anything differs.
 */
export async function checkSeed(c: pg.PoolClient): Promise<string[]> {
  const { rows } = await c.query<{ live: string; ties: string; bad: string; empty_bad: string; merges: string; merges_bad: string; copied_bad: string }>(
    `WITH a AS (
       SELECT si.story_id, count(*)::int AS copies, count(DISTINCT i.feed_id)::int AS outlets,
              min(i.first_seen_at) AS fs, max(i.last_seen_at) AS ls,
              count(DISTINCT COALESCE(i.published_at, i.first_seen_at))::int AS times,
              (array_agg(i.id ORDER BY COALESCE(i.published_at, i.first_seen_at), i.id))[1] AS canon
         FROM story_items si JOIN items i ON i.id = si.item_id GROUP BY si.story_id
     )
     SELECT count(*) AS live, count(*) FILTER (WHERE a.times <> a.copies) AS ties,
            count(*) FILTER (WHERE s.id IS NULL OR s.merged_into_id IS NOT NULL
              OR (s.copies, s.outlets, s.first_seen_at, s.last_seen_at, s.canonical_item_id, s.title, s.url)
                 IS DISTINCT FROM (a.copies, a.outlets, a.fs, a.ls, c.id, c.title, COALESCE(c.canonical_url, c.url))) AS bad,
            (SELECT count(*) FROM stories s WHERE NOT EXISTS (SELECT 1 FROM story_items si WHERE si.story_id = s.id)
                AND (s.copies <> 0 OR s.outlets <> 0 OR s.merged_into_id IS NULL)) AS empty_bad,
            (SELECT count(*) FROM story_merges) AS merges,
            (SELECT count(*) FROM stories s LEFT JOIN story_merges m ON m.from_story_id = s.id
              WHERE (s.merged_into_id IS NOT NULL) <> (m.from_story_id IS NOT NULL)
                 OR m.into_story_id IS DISTINCT FROM s.merged_into_id) AS merges_bad,
            (SELECT count(*) FROM story_items si JOIN items i ON i.id = si.item_id
              WHERE (si.feed_id, si.first_seen_at) IS DISTINCT FROM (i.feed_id, i.first_seen_at)) AS copied_bad
       FROM a JOIN items c ON c.id = a.canon LEFT JOIN stories s ON s.id = a.story_id`,
  );
  const r = rows[0]!;
  const lines = [
    `check: ${Number(r.live).toLocaleString("en")} stories with copies, aggregates and canonical copy recomputed from ` +
      `their members: ${r.bad} differ (copy times tied in ${r.ties}); ${Number(r.merges).toLocaleString("en")} merges, ` +
      `${Number(r.empty_bad) + Number(r.merges_bad)} inconsistent; ${r.copied_bad} copies whose feed or first-seen time differs from their item's`,
  ];
  // Foreign keys were not checked while loading (session_replication_role = replica): check them all now.
  const fks = await c.query<{ conname: string; conrelid: string; confrelid: string; cols: string[]; refcols: string[] }>(
    `SELECT conname, conrelid::regclass::text AS conrelid, confrelid::regclass::text AS confrelid,
            ARRAY(SELECT attname FROM unnest(conkey) WITH ORDINALITY k(n, o)
                    JOIN pg_attribute ON attrelid = conrelid AND attnum = k.n ORDER BY o)::text[] AS cols,
            ARRAY(SELECT attname FROM unnest(confkey) WITH ORDINALITY k(n, o)
                    JOIN pg_attribute ON attrelid = confrelid AND attnum = k.n ORDER BY o)::text[] AS refcols
       FROM pg_constraint WHERE contype = 'f' AND connamespace = 'public'::regnamespace ORDER BY conname`,
  );
  const broken: string[] = [];
  for (const fk of fks.rows) {
    const on = fk.cols.map((col, i) => `r.${escapeId(fk.refcols[i]!)} = t.${escapeId(col)}`).join(" AND ");
    const notNull = fk.cols.map((col) => `t.${escapeId(col)} IS NOT NULL`).join(" AND ");
    const { rows: n } = await c.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${fk.conrelid} t WHERE ${notNull} AND NOT EXISTS (SELECT 1 FROM ${fk.confrelid} r WHERE ${on})`,
    );
    if (Number(n[0]!.n)) broken.push(`${fk.conname}: ${n[0]!.n} rows`);
  }
  lines.push(`check: ${fks.rows.length} foreign keys, ${broken.length ? `BROKEN ${broken.join("; ")}` : "every reference found"}`);
  if (Number(r.bad) || Number(r.ties) || Number(r.empty_bad) || Number(r.merges_bad) || Number(r.copied_bad) || broken.length) {
    throw new Error(`the seed is inconsistent with the app's rules:\n  ${lines.join("\n  ")}`);
  }
  return lines;
}

const escapeId = (s: string) => `"${s.replace(/"/g, '""')}"`;
