-- Stories per day (UTC) over the last 14 days: new stories, their copies, the widest story's outlets.
SELECT day, stories, copies, max_outlets
  FROM analytics.daily_stories
 WHERE day >= (now() AT TIME ZONE 'UTC')::date - 13
 ORDER BY day;
