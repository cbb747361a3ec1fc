-- How fast does each outlet republish wire copy? Median and 90th percentile delay after the
-- story's first copy, over copies first seen in the 7 days before the rollup's last refresh
-- (window_end; the first copy itself left out). Another window: any-window/outlet_republish_delay.sql.
SELECT feed_id, outlet, copies,
       round((median_delay_seconds / 60)::numeric, 1) AS median_delay_min,
       round((p90_delay_seconds / 60)::numeric, 1) AS p90_delay_min,
       window_end
  FROM analytics.outlet_delay_7d
 ORDER BY median_delay_min, feed_id;
