-- Which feeds are broken? Failing now (consecutive errors) or gone (410), worst first.
SELECT feed_id, url, state, consecutive_errors, error_class, last_error, last_success_at, next_check_at
  FROM analytics.feed_health
 WHERE consecutive_errors > 0 OR state = 'gone'
 ORDER BY state = 'gone' DESC, consecutive_errors DESC, feed_id;
