-- user_purchases: orders, revenue and refunds. Revenue is the sum of purchase
-- amounts (gross); refunds are reported apart, as positive amounts. Without a
-- mapped amount column the money columns are NULL, never a made-up 0.
-- grain: one row per (product_id, user_id) with any event. inputs: stg_events.
-- params: $run_id, $as_of, $amount_mapped
with events as (
    select * from stg_events where run_id = $run_id
),

final as (
    select
        product_id,
        user_id,
        count(*) filter (where event_type = 'purchase') as purchases,
        count(*) filter (where event_type = 'refund') as refunds,
        case when $amount_mapped then
            coalesce(sum(amount) filter (where event_type = 'purchase'), 0)
        end as revenue_total,
        case when $amount_mapped then
            coalesce(sum(amount) filter (
                where event_type = 'purchase' and event_date > $as_of::date - 30
            ), 0)
        end as revenue_30d,
        case when $amount_mapped then
            coalesce(sum(abs(amount)) filter (where event_type = 'refund'), 0)
        end as refunded_total,
        avg(amount) filter (where event_type = 'purchase') as avg_order_value,
        min(event_time) filter (where event_type = 'purchase') as first_purchase_at,
        max(event_time) filter (where event_type = 'purchase') as last_purchase_at,
        date_diff(
            'day', max(event_date) filter (where event_type = 'purchase'), $as_of::date
        ) as days_since_last_purchase
    from events
    group by product_id, user_id
)

select * from final
