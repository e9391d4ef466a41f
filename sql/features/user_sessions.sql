-- user_sessions: visits rebuilt from events. A session ends after
-- $session_gap_minutes without an event; its duration (dwell) is the time from
-- its first to its last event, so a one-event session lasts 0 seconds.
-- One window pass is enough: a session's duration is the sum of the gaps
-- inside it, so the total dwell is the sum of all gaps up to the session gap,
-- and the number of sessions is the number of gaps longer than it (+1).
-- grain: one row per (product_id, user_id). inputs: stg_events.
-- params: $run_id, $session_gap_minutes
with events as (
    select product_id, user_id, event_time from stg_events where run_id = $run_id
),

gaps as (
    select
        product_id,
        user_id,
        epoch(event_time) - epoch(
            lag(event_time) over (partition by product_id, user_id order by event_time)
        ) as gap_seconds
    from events
),

final as (
    select
        product_id,
        user_id,
        count(*) filter (
            where gap_seconds is null or gap_seconds > $session_gap_minutes * 60
        ) as sessions,
        coalesce(sum(gap_seconds) filter (where gap_seconds <= $session_gap_minutes * 60), 0)
            / count(*) filter (
                where gap_seconds is null or gap_seconds > $session_gap_minutes * 60
            ) as avg_session_seconds
    from gaps
    group by product_id, user_id
)

select * from final
