-- user_purchases: orders, revenue and refunds. Revenue is the sum of purchase
-- amounts (gross); refunds are reported apart, as positive amounts. Without a
-- mapped amount column the money columns are NULL, never a made-up 0.
-- first_order_value is the first purchase day's total (purchases are merged
-- per day, as for frequency): a covariate of the purchase models. The money
-- totals are rounded to a millionth, as user_days' day sums are (why: there).
-- grain: one row per (product_id, user_id) with any event. inputs: user_days
-- (this run's day roll-up, user_days.sql).
-- params: $as_of, $amount_mapped
with days as (
    select * from user_days
),

final as (
    select
        product_id,
        user_id,
        sum(purchases) as purchases,
        sum(refunds) as refunds,
        case when $amount_mapped then
            coalesce(round(sum(purchase_amount), 6), 0)
        end as revenue_total,
        case when $amount_mapped then
            coalesce(round(sum(purchase_amount) filter (where event_date > $as_of::date - 30), 6), 0)
        end as revenue_30d,
        case when $amount_mapped then
            coalesce(round(sum(refund_amount), 6), 0)
        end as refunded_total,
        sum(purchase_amount) / nullif(sum(priced_purchases), 0) as avg_order_value,
        min_by(purchase_amount, event_date) filter (where purchases > 0) as first_order_value,
        min(first_purchase_at) as first_purchase_at,
        max(last_purchase_at) as last_purchase_at,
        date_diff(
            'day', max(event_date) filter (where purchases > 0), $as_of::date
        ) as days_since_last_purchase
    from days
    group by product_id, user_id
)

select * from final
