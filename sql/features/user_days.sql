-- user_days: one row per user and calendar day with an event, the roll-up the
-- activity, purchase and BTYD features all start from. Rolling the events up
-- once (instead of once per feature model) is one pass over the run's events
-- rather than three; the later models group ~5x fewer rows.
-- Purchase amounts are summed per day as lifetimes does for BTYD inputs; a
-- purchase without an amount (possible only when no amount is mapped) does not
-- count towards priced_purchases.
-- grain: one row per (product_id, user_id, event_date). inputs: stg_events.
-- params: $run_id
select
    product_id,
    user_id,
    event_date,
    min(event_time) as first_event_at,
    max(event_time) as last_event_at,
    count(*) as events,
    count(*) filter (where event_type = 'visit') as visits,
    count(*) filter (where event_type = 'page_view') as page_views,
    count(*) filter (where event_type = 'signup') as signups,
    count(*) filter (where event_type = 'other') as other_events,
    count(*) filter (where event_type = 'purchase') as purchases,
    count(amount) filter (where event_type = 'purchase') as priced_purchases,
    sum(amount) filter (where event_type = 'purchase') as purchase_amount,
    min(event_time) filter (where event_type = 'purchase') as first_purchase_at,
    max(event_time) filter (where event_type = 'purchase') as last_purchase_at,
    count(*) filter (where event_type = 'refund') as refunds,
    sum(abs(amount)) filter (where event_type = 'refund') as refund_amount
from stg_events
where run_id = $run_id
group by product_id, user_id, event_date
