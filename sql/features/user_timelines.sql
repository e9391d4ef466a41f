-- user_timelines: each user's events in time order, cut into visits, plus the
-- busiest calendar minute. A temp table of the run, read by user_features.sql
-- (sessions, avg_session_seconds, peak_events_per_minute per user) and by
-- metrics/daily_metrics.sql (session_list: sessions per day they started).
-- A session ends after $session_gap_minutes without an event; its duration
-- (dwell) is the time from its first to its last event, so a one-event
-- session lasts 0 seconds; it is counted in whole microseconds (epoch()
-- seconds as doubles lose the last digits of a 2024 time, and Spark's variant
-- counts microseconds too). peak_events_per_minute counts the events in the
-- user's busiest calendar minute, a sign of scripts and bots (people rarely
-- fire more than a few events in one minute).
-- Each user's events are gathered into one time-sorted list and both are read
-- off it: sorting many short lists costs about half of one window sort over
-- all events, and one pass serves sessions and minutes alike.
-- grain: one row per (product_id, user_id). inputs: stg_events.
-- params: $run_id, $session_gap_minutes
with sorted_events as (
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
    -- positions (1-based) of the first and the last event of each session
    -- (the n-th start and the n-th end belong to the same session), and of
    -- the first event of each calendar minute
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
        ) as ends,
        list_filter(
            range(1, len(events) + 1),
            lambda i: i = 1
            or date_trunc('minute', events[i].event_time)
            <> date_trunc('minute', events[i - 1].event_time)
        ) as minute_starts
    from sorted_events
),

timelines as (
    select
        product_id,
        user_id,
        list_transform(
            starts,
            lambda first, n: {
                'started_at': events[first].event_time,
                'start_date': events[first].event_date,
                'session_seconds': cast(
                    date_diff('microsecond', events[first].event_time, events[ends[n]].event_time)
                    as double
                ) / 1000000
            }
        ) as session_list,
        -- a minute's events run from its first position to the next minute's
        list_max(
            list_transform(
                minute_starts,
                lambda first, n: coalesce(minute_starts[n + 1], len(events) + 1) - first
            )
        ) as peak_events_per_minute
    from edges
),

final as (
    select
        product_id,
        user_id,
        session_list,
        len(session_list) as sessions,
        list_avg(list_transform(session_list, lambda s: s.session_seconds))
            as avg_session_seconds,
        peak_events_per_minute
    from timelines
)

select * from final
