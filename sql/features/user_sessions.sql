-- user_sessions: visits rebuilt from events. A session ends after
-- $session_gap_minutes without an event; its duration (dwell) is the time from
-- its first to its last event, so a one-event session lasts 0 seconds.
-- grain: one row per (product_id, user_id). inputs: stg_events.
-- params: $run_id, $session_gap_minutes
with events as (
    select product_id, user_id, event_time from stg_events where run_id = $run_id
),

gaps as (
    select
        product_id,
        user_id,
        event_time,
        case
            when lag(event_time) over by_time is null then 1
            when event_time - lag(event_time) over by_time
                > to_minutes(cast($session_gap_minutes as bigint)) then 1
            else 0
        end as starts_session
    from events
    window by_time as (partition by product_id, user_id order by event_time)
),

numbered as (
    select
        product_id,
        user_id,
        event_time,
        sum(starts_session) over (
            partition by product_id, user_id order by event_time
            rows between unbounded preceding and current row
        ) as session_number
    from gaps
),

sessions as (
    select
        product_id,
        user_id,
        session_number,
        epoch(max(event_time)) - epoch(min(event_time)) as session_seconds
    from numbered
    group by product_id, user_id, session_number
),

final as (
    select
        product_id,
        user_id,
        count(*) as sessions,
        avg(session_seconds) as avg_session_seconds
    from sessions
    group by product_id, user_id
)

select * from final
