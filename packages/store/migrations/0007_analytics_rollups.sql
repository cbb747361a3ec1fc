-- analytics.story_items reads the copy's feed and first-seen time from story_items itself
-- (migration 0006), and LEFT JOINs the rest: every copy has its item, story and feed (NOT NULL
-- foreign keys), so the rows are the same, but PostgreSQL can leave out a join whose columns a
-- query does not use (it never removes an inner join). Same columns, same order.
CREATE OR REPLACE VIEW analytics.story_items AS
SELECT si.story_id,
       si.item_id,
       si.feed_id,
       COALESCE(f.title, f.url) AS outlet,
       i.title,
       i.url,
       i.published_at,
       si.first_seen_at,
       COALESCE(i.published_at, si.first_seen_at) AS copy_at,
       GREATEST(0, EXTRACT(EPOCH FROM COALESCE(i.published_at, si.first_seen_at) - COALESCE(c.published_at, c.first_seen_at)))::double precision AS delay_seconds,
       (si.item_id = s.canonical_item_id) AS is_canonical,
       si.similarity,
       si.distance
  FROM story_items si
  LEFT JOIN items i ON i.id = si.item_id
  LEFT JOIN stories s ON s.id = si.story_id
  LEFT JOIN feeds f ON f.id = si.feed_id
  LEFT JOIN items c ON c.id = s.canonical_item_id;
--> statement-breakpoint
-- Rollups of the last 7 days, for the reports that aggregate a week of copies (hundreds of
-- thousands of rows: seconds, not milliseconds, at a million items). Refreshed by the ingest
-- service every ANALYTICS_REFRESH_MINUTES and by `newsfeed analytics refresh`; each row says
-- the window it covers. docs/sql/any-window/ has the same reports over any window, from the views.
CREATE MATERIALIZED VIEW analytics.outlet_delay_7d AS
SELECT feed_id,
       outlet,
       count(*) AS copies,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY delay_seconds) AS median_delay_seconds,
       percentile_cont(0.9) WITHIN GROUP (ORDER BY delay_seconds) AS p90_delay_seconds,
       now() - interval '7 days' AS window_start,
       now() AS window_end
  FROM analytics.story_items
 WHERE first_seen_at >= now() - interval '7 days' AND NOT is_canonical
 GROUP BY feed_id, outlet;
--> statement-breakpoint
CREATE UNIQUE INDEX outlet_delay_7d_feed_key ON analytics.outlet_delay_7d (feed_id);
--> statement-breakpoint
CREATE MATERIALIZED VIEW analytics.feed_duplicates_7d AS
SELECT si.feed_id,
       si.outlet,
       count(*) AS items,
       count(*) FILTER (WHERE s.outlets > 1) AS shared,
       count(*) FILTER (WHERE s.outlets > 1)::double precision / count(*) AS duplicate_rate,
       now() - interval '7 days' AS window_start,
       now() AS window_end
  FROM analytics.story_items si
  JOIN stories s ON s.id = si.story_id
 WHERE si.first_seen_at >= now() - interval '7 days'
 GROUP BY si.feed_id, si.outlet;
--> statement-breakpoint
CREATE UNIQUE INDEX feed_duplicates_7d_feed_key ON analytics.feed_duplicates_7d (feed_id);
--> statement-breakpoint
CREATE MATERIALIZED VIEW analytics.outlet_pairs_7d AS
WITH recent AS (
  SELECT DISTINCT story_id, feed_id
    FROM story_items
   WHERE first_seen_at >= now() - interval '7 days'
), pairs AS (
  SELECT a.feed_id AS feed_a, b.feed_id AS feed_b, count(*) AS shared_stories
    FROM recent a
    JOIN recent b ON b.story_id = a.story_id AND b.feed_id > a.feed_id
   GROUP BY a.feed_id, b.feed_id
)
SELECT p.feed_a,
       COALESCE(fa.title, fa.url) AS outlet_a,
       p.feed_b,
       COALESCE(fb.title, fb.url) AS outlet_b,
       p.shared_stories,
       now() - interval '7 days' AS window_start,
       now() AS window_end
  FROM pairs p
  JOIN feeds fa ON fa.id = p.feed_a
  JOIN feeds fb ON fb.id = p.feed_b;
--> statement-breakpoint
CREATE UNIQUE INDEX outlet_pairs_7d_key ON analytics.outlet_pairs_7d (feed_a, feed_b);
--> statement-breakpoint
CREATE INDEX outlet_pairs_7d_shared_idx ON analytics.outlet_pairs_7d (shared_stories DESC);
--> statement-breakpoint
GRANT SELECT ON analytics.outlet_delay_7d, analytics.feed_duplicates_7d, analytics.outlet_pairs_7d TO newsfeed_analyst;
