-- user_days: one row per user and calendar day with an event, the roll-up the
-- activity, purchase and BTYD features all start from. Rolling the events up
-- once (instead of once per feature model) is one pass over the run's events
-- rather than three; the later models group ~5x fewer rows.
-- Purchase amounts are summed per day as lifetimes does for BTYD inputs; a
-- purchase without an amount (possible only when no amount is mapped) does not
-- count towards priced_purchases. Money sums are rounded to a millionth: in
-- floats 0.1 + 0.2 is 0.30000000000000004, and a sum depends on the order its
-- rows are added in, which neither engine fixes (threads, partitions). Unrounded,
-- two users with the same money could rank apart in RFM, fall either side of a
-- rule's threshold, or score differently on DuckDB and Spark.
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
    round(sum(amount) filter (where event_type = 'purchase'), 6) as purchase_amount,
    min(event_time) filter (where event_type = 'purchase') as first_purchase_at,
    max(event_time) filter (where event_type = 'purchase') as last_purchase_at,
    count(*) filter (where event_type = 'refund') as refunds,
    round(sum(abs(amount)) filter (where event_type = 'refund'), 6) as refund_amount
from stg_events
where run_id = $run_id
group by product_id, user_id, event_date
