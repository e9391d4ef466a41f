-- user_activity: when and how much a user was seen, any event type.
-- grain: one row per (product_id, user_id). inputs: stg_events.
-- params: $run_id, $as_of (all windows end on as_of, inclusive)
with events as (
    select * from stg_events where run_id = $run_id
),

first_touch as (
    -- acquisition channel = channel of the user's first event that has one
    select product_id, user_id, channel as acquisition_channel
    from (
        select
            product_id,
            user_id,
            channel,
            row_number() over (
                partition by product_id, user_id order by event_time, channel
            ) as touch_number
        from events
        where channel is not null
    ) as touches
    where touch_number = 1
),

activity as (
    select
        product_id,
        user_id,
        min(event_time) as first_seen_at,
        max(event_time) as last_seen_at,
        min(event_date) as first_seen_date,
        max(event_date) as last_seen_date,
        count(*) as events_total,
        count(*) filter (where event_type = 'visit') as visits,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type = 'signup') as signups,
        count(*) filter (where event_type = 'other') as other_events,
        count(distinct event_date) as active_days,
        count(distinct event_date) filter (where event_date > $as_of::date - 7) as active_days_7d,
        count(distinct event_date) filter (where event_date > $as_of::date - 30) as active_days_30d,
        count(distinct event_date) filter (where event_date > $as_of::date - 90) as active_days_90d,
        count(distinct channel) as distinct_channels
    from events
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
        activity.distinct_channels
    from activity
    left join first_touch
        on activity.product_id = first_touch.product_id
        and activity.user_id = first_touch.user_id
)

select * from final
