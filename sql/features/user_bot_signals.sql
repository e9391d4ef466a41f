-- user_bot_signals: the busiest minute of a user, a sign of scripts and bots
-- (people rarely fire more than a few events in one calendar minute).
-- grain: one row per (product_id, user_id). inputs: stg_events. params: $run_id
with events as (
    select product_id, user_id, event_time from stg_events where run_id = $run_id
),

per_minute as (
    -- minutes as whole numbers since 1970 (cheaper to group than timestamps)
    select product_id, user_id, epoch_us(event_time) // 60000000 as minute, count(*) as events
    from events
    group by product_id, user_id, epoch_us(event_time) // 60000000
),

final as (
    select product_id, user_id, max(events) as peak_events_per_minute
    from per_minute
    group by product_id, user_id
)

select * from final
