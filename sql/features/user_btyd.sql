-- user_btyd: the buy-till-you-die inputs, as lifetimes'
-- summary_data_from_transaction_data(freq='D') computes them: purchases on
-- one calendar day are one transaction (amounts summed); frequency = purchase
-- days after the first; recency = days from the first to the last purchase
-- day; T = days from the first purchase day to as_of; monetary_value = mean
-- amount of the repeat purchase days (0 when frequency = 0). recency and T are
-- divided by $unit_days (1 for "D", 7 for "W"). The mean is the rounded sum
-- over the days (see user_days.sql): a float avg depends on the order its rows
-- are added in, and the spend model groups users on it (repeat_buyer_values).
-- grain: one row per (product_id, user_id) with a purchase. inputs: user_days
-- (this run's day roll-up, user_days.sql). params: $as_of, $unit_days
with purchase_days as (
    select product_id, user_id, event_date as purchase_date, purchase_amount as day_amount
    from user_days
    where purchases > 0
),

with_first as (
    select
        *,
        min(purchase_date) over (partition by product_id, user_id) as first_purchase_date
    from purchase_days
),

final as (
    select
        product_id,
        user_id,
        count(*) - 1 as frequency,
        date_diff('day', min(purchase_date), max(purchase_date)) / $unit_days as recency,
        date_diff('day', min(purchase_date), $as_of::date) / $unit_days as "T",
        case
            when count(*) = 1 then 0.0
            else round(sum(day_amount) filter (where purchase_date > first_purchase_date), 6)
                / (count(*) - 1)
        end as monetary_value
    from with_first
    group by product_id, user_id
)

select * from final
