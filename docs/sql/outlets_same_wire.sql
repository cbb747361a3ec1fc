-- Which outlets carry the same wire stories? Pairs of outlets by stories they both carried in
-- the last 7 days (before the rollup's last refresh, window_end).
-- Another window: any-window/outlets_same_wire.sql.
SELECT outlet_a, outlet_b, shared_stories, window_end
  FROM analytics.outlet_pairs_7d
 ORDER BY shared_stories DESC, feed_a, feed_b
 LIMIT 50;
