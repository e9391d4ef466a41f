-- user_sessions: how many visits a user made and how long they stayed.
-- grain: one row per (product_id, user_id). inputs: user_timelines (this
-- run's sessions, user_timelines.sql).
select
    product_id,
    user_id,
    len(sessions) as sessions,
    list_avg(list_transform(sessions, lambda s: s.session_seconds)) as avg_session_seconds
from user_timelines
