-- user_features: everything known about a user at as_of, one wide row.
-- grain: one row per (product_id, user_id) seen up to as_of.
-- inputs: user_activity, user_timelines, user_purchases,
-- user_btyd (temp tables of this run). params: $run_id
select
    $run_id as run_id,
    activity.product_id,
    activity.user_id,
    activity.first_seen_at,
    activity.last_seen_at,
    activity.tenure_days,
    activity.days_since_last_seen,
    activity.events_total,
    activity.visits,
    activity.page_views,
    activity.signups,
    purchases.purchases,
    purchases.refunds,
    activity.other_events,
    activity.active_days,
    activity.active_days_7d,
    activity.active_days_30d,
    activity.active_days_90d,
    timelines.sessions,
    timelines.avg_session_seconds,
    purchases.revenue_total,
    purchases.revenue_30d,
    purchases.refunded_total,
    purchases.avg_order_value,
    purchases.first_order_value,
    purchases.first_purchase_at,
    purchases.last_purchase_at,
    purchases.days_since_last_purchase,
    activity.acquisition_channel,
    activity.distinct_channels,
    activity.events_per_active_day,
    timelines.peak_events_per_minute,
    btyd.frequency,
    btyd.recency,
    btyd."T",
    case when purchases.revenue_total is not null then btyd.monetary_value end as monetary_value
from user_activity as activity
inner join user_timelines as timelines
    on activity.product_id = timelines.product_id and activity.user_id = timelines.user_id
inner join user_purchases as purchases
    on activity.product_id = purchases.product_id and activity.user_id = purchases.user_id
left join user_btyd as btyd
    on activity.product_id = btyd.product_id and activity.user_id = btyd.user_id
