-- user_covariates: the per-user covariates a purchase model with covariates may
-- use ([scores] covariates), next to the user's (frequency, recency, T).
-- acquisition_channel: the channel of the user's first event that has one,
-- '(none)' without. first_order_bucket: the log of the first purchase day's
-- total amount (user_features.first_order_value) in steps of a
-- quarter, round(4 ln amount), so log_first_order_value = bucket / 4; NULL
-- without a positive amount. Bucketing keeps the fit's distinct rows few (an
-- exact amount would make one row per user) and groups on an integer.
-- grain: one row per (product_id, user_id) with a purchase.
-- inputs: user_features. params: $run_id
with final as (
    select
        features.product_id,
        features.user_id,
        features.frequency,
        features.recency,
        features."T",
        coalesce(features.acquisition_channel, '(none)') as acquisition_channel,
        case
            when features.first_order_value > 0
                then cast(round(4 * ln(features.first_order_value)) as integer)
        end as first_order_bucket
    from user_features as features
    where features.run_id = $run_id and features.frequency is not null
)

select * from final
