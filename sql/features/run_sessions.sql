-- run_sessions: every visit of every user, rebuilt from events. A session ends
-- after $session_gap_minutes without an event; its duration (dwell) is the
-- time from its first to its last event, so a one-event session lasts 0
-- seconds. A temp table of the run, read by user_sessions (per user) and by
-- metrics/daily_metrics.sql (per day the session started).
-- Each user's events are gathered into one time-sorted list and cut into
-- sessions there: sorting many short lists costs about half of one window
-- sort over all events, and the table serves both readers.
-- grain: one row per session. inputs: stg_events.
-- params: $run_id, $session_gap_minutes
with timelines as (
    -- events of equal time are interchangeable here (same time, same day)
    select
        product_id,
        user_id,
        list_sort(list({'event_time': event_time, 'event_date': event_date})) as events
    from stg_events
    where run_id = $run_id
    group by product_id, user_id
),

edges as (
    -- positions (1-based) of the first and the last event of each session:
    -- the n-th start and the n-th end belong to the same session
    select
        product_id,
        user_id,
        events,
        list_filter(
            range(1, len(events) + 1),
            lambda i: i = 1
            or events[i].event_time - events[i - 1].event_time
            > to_minutes(cast($session_gap_minutes as bigint))
        ) as starts,
        list_filter(
            range(1, len(events) + 1),
            lambda i: i = len(events)
            or events[i + 1].event_time - events[i].event_time
            > to_minutes(cast($session_gap_minutes as bigint))
        ) as ends
    from timelines
),

sessions as (
    select
        product_id,
        user_id,
        unnest(
            list_transform(
                starts,
                lambda first, n: {
                    'started_at': events[first].event_time,
                    'start_date': events[first].event_date,
                    'session_seconds':
                        epoch(events[ends[n]].event_time) - epoch(events[first].event_time)
                }
            ),
            recursive := true
        )
    from edges
)

select * from sessions
