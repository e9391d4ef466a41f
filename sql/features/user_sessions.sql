-- user_sessions: how many visits a user made and how long they stayed.
-- grain: one row per (product_id, user_id). inputs: run_sessions (sessions of
-- this run's events, run_sessions.sql).
select
    product_id,
    user_id,
    count(*) as sessions,
    avg(session_seconds) as avg_session_seconds
from run_sessions
group by product_id, user_id
