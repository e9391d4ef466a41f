-- user_activity: when and how much a user was seen, any event type.
-- Day counts come from the day roll-up (user_days), so they need no DISTINCT;
-- channels are rolled up to one row per user and channel.
-- grain: one row per (product_id, user_id). inputs: user_days (this run's
-- roll-up, user_days.sql), stg_events (channels).
-- params: $run_id, $as_of (all windows end on as_of, inclusive)
with days as (
    select * from user_days
),

channels as (
    select product_id, user_id, channel, min(event_time) as first_used_at
    from stg_events
    where run_id = $run_id and channel is not null
    group by product_id, user_id, channel
),

first_touch as (
    -- acquisition channel = channel of the user's first event that has one
    -- (ties in time broken by channel name, so reruns agree)
    select
        product_id,
        user_id,
        arg_min(channel, (first_used_at, channel)) as acquisition_channel,
        count(*) as distinct_channels
    from channels
    group by product_id, user_id
),

activity as (
    select
        product_id,
        user_id,
        min(first_event_at) as first_seen_at,
        max(last_event_at) as last_seen_at,
        min(event_date) as first_seen_date,
        max(event_date) as last_seen_date,
        sum(events) as events_total,
        sum(visits) as visits,
        sum(page_views) as page_views,
        sum(signups) as signups,
        sum(other_events) as other_events,
        count(*) as active_days,
        count(*) filter (where event_date > $as_of::date - 7) as active_days_7d,
        count(*) filter (where event_date > $as_of::date - 30) as active_days_30d,
        count(*) filter (where event_date > $as_of::date - 90) as active_days_90d
    from days
    group by product_id, user_id
),

final as (
    select
        activity.product_id,
        activity.user_id,
        activity.first_seen_at,
        activity.last_seen_at,
        date_diff('day', activity.first_seen_date, $as_of::date) as tenure_days,
        date_diff('day', activity.last_seen_date, $as_of::date) as days_since_last_seen,
        activity.events_total,
        activity.visits,
        activity.page_views,
        activity.signups,
        activity.other_events,
        activity.active_days,
        activity.active_days_7d,
        activity.active_days_30d,
        activity.active_days_90d,
        activity.events_total / activity.active_days as events_per_active_day,
        first_touch.acquisition_channel,
        coalesce(first_touch.distinct_channels, 0) as distinct_channels
    from activity
    left join first_touch
        on activity.product_id = first_touch.product_id
        and activity.user_id = first_touch.user_id
)

select * from final
