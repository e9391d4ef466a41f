-- user_timelines, Spark variant (sql/features/user_timelines.sql is the DuckDB
-- one, which reads each user's events off one sorted list: faster on DuckDB,
-- but list lambdas and 1-based list indexing do not exist on Spark). Same
-- grain and columns, held equal by tests/engines/test_spark_parity.py.
-- One window pass finds the first and last event of each session (lag / lead),
-- a second one over the boundary rows pairs each start with its end; times are
-- compared in whole microseconds. At one time a start sorts before an end.
-- grain: one row per (product_id, user_id). inputs: stg_events.
-- params: :run_id, :session_gap_minutes
with events as (
    select product_id, user_id, event_time, event_date
    from stg_events
    where run_id = :run_id
),

neighbours as (
    select
        product_id,
        user_id,
        event_time,
        event_date,
        lag(event_time) over by_time as previous_time,
        lead(event_time) over by_time as next_time
    from events
    window by_time as (partition by product_id, user_id order by event_time)
),

boundaries as (
    select
        product_id,
        user_id,
        event_time,
        event_date,
        previous_time is null
        or timestampdiff(MICROSECOND, previous_time, event_time)
        > :session_gap_minutes * 60000000 as is_start,
        next_time is null
        or timestampdiff(MICROSECOND, event_time, next_time)
        > :session_gap_minutes * 60000000 as is_end
    from neighbours
),

paired as (
    select
        product_id,
        user_id,
        event_time,
        event_date,
        is_start,
        case
            when is_end then event_time
            else lead(event_time) over (
                partition by product_id, user_id order by event_time, is_end
            )
        end as ended_at
    from boundaries
    where is_start or is_end
),

sessions as (
    select
        product_id,
        user_id,
        named_struct(
            'started_at', event_time,
            'start_date', event_date,
            'session_seconds',
            cast(timestampdiff(MICROSECOND, event_time, ended_at) as double) / 1000000
        ) as session
    from paired
    where is_start
),

per_user as (
    select
        product_id,
        user_id,
        array_sort(collect_list(session)) as session_list,
        count(*) as sessions,
        avg(session.session_seconds) as avg_session_seconds
    from sessions
    group by product_id, user_id
),

minutes as (
    select product_id, user_id, count(*) as minute_events
    from events
    group by product_id, user_id, date_trunc('MINUTE', event_time)
),

peaks as (
    select product_id, user_id, max(minute_events) as peak_events_per_minute
    from minutes
    group by product_id, user_id
)

select
    per_user.product_id,
    per_user.user_id,
    per_user.session_list,
    per_user.sessions,
    per_user.avg_session_seconds,
    peaks.peak_events_per_minute
from per_user
inner join peaks
    on per_user.product_id = peaks.product_id and per_user.user_id = peaks.user_id
