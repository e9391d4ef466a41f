-- user_covariates: the per-user covariates a purchase model with covariates may
-- use ([scores] covariates), next to the user's (frequency, recency, T).
-- acquisition_channel: the channel of the user's first event that has one,
-- '(none)' without. first_order_bucket: the log of the first purchase day's
-- total amount (purchases are merged per day, as for frequency) in steps of a
-- quarter, round(4 ln amount), so log_first_order_value = bucket / 4; NULL
-- without a positive amount. Bucketing keeps the fit's distinct rows few (an
-- exact amount would make one row per user) and groups on an integer.
-- grain: one row per (product_id, user_id) with a purchase.
-- inputs: user_features, stg_events (this run). params: $run_id
with purchase_days as (
    select product_id, user_id, event_date, sum(amount) as amount
    from stg_events
    where run_id = $run_id and event_type = 'purchase'
    group by product_id, user_id, event_date
),

first_days as (
    select product_id, user_id, min(event_date) as first_date
    from purchase_days
    group by product_id, user_id
),

first_orders as (
    select purchase_days.product_id, purchase_days.user_id, purchase_days.amount
    from purchase_days
    inner join first_days
        on purchase_days.product_id = first_days.product_id
        and purchase_days.user_id = first_days.user_id
        and purchase_days.event_date = first_days.first_date
),

final as (
    select
        features.product_id,
        features.user_id,
        features.frequency,
        features.recency,
        features."T",
        coalesce(features.acquisition_channel, '(none)') as acquisition_channel,
        case
            when first_orders.amount > 0 then cast(round(4 * ln(first_orders.amount)) as integer)
        end as first_order_bucket
    from user_features as features
    left join first_orders
        on features.product_id = first_orders.product_id
        and features.user_id = first_orders.user_id
    where features.run_id = $run_id and features.frequency is not null
)

select * from final
