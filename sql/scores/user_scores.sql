-- user_scores: every score of a user at as_of, one row per user of user_features.
-- RFM (user_rfm), the purchase model's predictions on the user's
-- (frequency, recency, T) triple, Gamma-Gamma's expected spend per purchase
-- and CLV = expected spend x discounted expected purchases (clv_factor), the
-- activity model's p_alive over active days, and the survival model's
-- probability of still being active (user_survival). The purchase model's
-- per-triple table also carries 90% bounds (columns ending _lower_90 and
-- _upper_90), purchase-count probabilities, future P(alive) and the median
-- days to the next purchase, which becomes a date counted from as_of.
-- Users without a purchase have no purchase-model scores; a product whose
-- model could not be fitted has NULL there too (see model_params).
-- grain: one row per (product_id, user_id). inputs: user_features, user_rfm,
-- purchase_predictions, spend_params, activity_predictions, user_survival.
-- params: $run_id, $unit_days, $as_of
with features as (
    select * from user_features where run_id = $run_id
),

spend as (
    select
        features.product_id,
        features.user_id,
        case
            when features.frequency is null then null
            when spend_params.p is null then spend_params.mean_value
            else (spend_params.q - 1) / (spend_params.p * features.frequency + spend_params.q - 1)
                * (spend_params.v * spend_params.p / (spend_params.q - 1))
                + (spend_params.p * features.frequency)
                / (spend_params.p * features.frequency + spend_params.q - 1)
                * greatest(features.monetary_value, 0)
        end as expected_average_value
    from features
    left join spend_params on features.product_id = spend_params.product_id
),

final as (
    select
        $run_id as run_id,
        features.product_id,
        features.user_id,
        user_rfm.r_score,
        user_rfm.f_score,
        user_rfm.m_score,
        user_rfm.fm_score,
        user_rfm.rfm_segment,
        features.frequency,
        features.recency,
        features."T" as t,
        features.monetary_value,
        purchase.p_alive,
        columns('^expected_purchases_'),
        columns('^p_(no_purchase|one_purchase|2plus_purchases|alive_in)_'),
        spend.expected_average_value,
        spend.expected_average_value * purchase.clv_factor as clv,
        spend.expected_average_value * purchase.clv_factor_lower_90 as clv_lower_90,
        spend.expected_average_value * purchase.clv_factor_upper_90 as clv_upper_90,
        $as_of::date + cast(round(purchase.days_to_next_purchase) as integer)
            as expected_next_purchase_at,
        activity.p_alive_activity,
        activity.expected_active_days_30d,
        survival.p_active_30d,
        survival.p_active_90d
    from features
    inner join user_rfm
        on features.product_id = user_rfm.product_id and features.user_id = user_rfm.user_id
    inner join spend
        on features.product_id = spend.product_id and features.user_id = spend.user_id
    left join purchase_predictions as purchase
        on features.product_id = purchase.product_id
        and features.frequency = purchase.frequency
        and features.recency = purchase.recency
        and features."T" = purchase."T"
    left join activity_predictions as activity
        on features.product_id = activity.product_id
        and features.active_days - 1 = activity.frequency
        and (features.tenure_days - features.days_since_last_seen) / $unit_days = activity.recency
        and features.tenure_days / $unit_days = activity."T"
    left join user_survival as survival
        on survival.run_id = $run_id
        and features.product_id = survival.product_id
        and features.user_id = survival.user_id
)

select * from final
