-- user_bot_signals: the busiest minute of a user, a sign of scripts and bots
-- (read off the user's timeline, user_timelines.sql).
-- grain: one row per (product_id, user_id). inputs: user_timelines
select product_id, user_id, peak_events_per_minute
from user_timelines
