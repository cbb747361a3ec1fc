-- What share of each feed's items in the last 7 days (before the rollup's last refresh,
-- window_end) were copies of a story other outlets carried too?
-- Another window: any-window/duplicate_rate_per_feed.sql.
SELECT feed_id, outlet, items, shared, round(duplicate_rate::numeric, 3) AS duplicate_rate, window_end
  FROM analytics.feed_duplicates_7d
 ORDER BY duplicate_rate DESC, feed_id;
