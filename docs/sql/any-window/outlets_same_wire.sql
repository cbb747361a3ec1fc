-- Which outlets carry the same wire stories? Pairs of outlets by stories they both carried in the last 7 days,
-- computed from the views (any window: change the interval; seconds at a million items, see docs/scaling.md);
-- ../outlets_same_wire.sql reads the same figures from a rollup.
WITH recent AS (
  SELECT DISTINCT story_id, feed_id, outlet
    FROM analytics.story_items
   WHERE first_seen_at >= now() - interval '7 days'
)
SELECT a.outlet AS outlet_a, b.outlet AS outlet_b, count(*) AS shared_stories
  FROM recent a
  JOIN recent b ON b.story_id = a.story_id AND b.feed_id > a.feed_id
 GROUP BY a.feed_id, a.outlet, b.feed_id, b.outlet
 ORDER BY shared_stories DESC, a.feed_id, b.feed_id
 LIMIT 50;
