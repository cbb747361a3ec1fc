/**
 * bench:sql's experiments: changes proposed for the analyst queries that miss the goal, applied
 * to the scratch database only (never to the migrations) and measured against the baseline.
 * docs/scaling.md ("Analyst queries") says why each one helps.
 */

/** --extra-indexes: the window's rows without visiting the items and story_items heaps. */
export const EXTRA_INDEXES = [
  // items_first_seen_idx with the columns the windowed queries read next: would replace it.
  `CREATE INDEX items_first_seen_cover_x ON items (first_seen_at) INCLUDE (id, feed_id, published_at)`,
  // story_items_item_key with the story: would replace it (same uniqueness, so ON CONFLICT is unchanged).
  `CREATE UNIQUE INDEX story_items_item_cover_x ON story_items (item_id) INCLUDE (story_id)`,
];

/**
 * --rewrite-views: analytics.story_items with LEFT JOINs to stories and feeds. Every row of
 * story_items has its story and every item its feed (NOT NULL foreign keys), so the rows are the
 * same; but PostgreSQL can then leave out a join whose columns a query does not use (it never
 * removes an inner join, whatever the foreign keys say).
 */
export const VIEW_REWRITE = `CREATE OR REPLACE VIEW analytics.story_items AS
SELECT si.story_id,
       si.item_id,
       i.feed_id,
       COALESCE(f.title, f.url) AS outlet,
       i.title,
       i.url,
       i.published_at,
       i.first_seen_at,
       COALESCE(i.published_at, i.first_seen_at) AS copy_at,
       GREATEST(0, EXTRACT(EPOCH FROM COALESCE(i.published_at, i.first_seen_at) - COALESCE(c.published_at, c.first_seen_at)))::double precision AS delay_seconds,
       (i.id = s.canonical_item_id) AS is_canonical,
       si.similarity,
       si.distance
  FROM story_items si
  JOIN items i ON i.id = si.item_id
  LEFT JOIN stories s ON s.id = si.story_id
  LEFT JOIN feeds f ON f.id = i.feed_id
  LEFT JOIN items c ON c.id = s.canonical_item_id`;

/** --analyst-settings "name=value,…": session settings (SET) for the analyst's connection. */
export function parseSettings(text: string): [name: string, value: string][] | string {
  const out: [string, string][] = [];
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const m = /^([a-z_][a-z0-9_.]*)\s*=\s*([A-Za-z0-9_.]+)$/.exec(part);
    if (!m) return `--analyst-settings: '${part}' is not name=value (letters, digits, _ and . only)`;
    out.push([m[1]!, m[2]!]);
  }
  return out.length ? out : "--analyst-settings: no name=value given";
}
