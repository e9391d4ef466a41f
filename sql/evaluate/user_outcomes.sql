-- user_outcomes: what each user scored at as_of did in the next horizon.
-- active = any event in (as_of, as_of + horizon]; purchases = distinct purchase
-- days (the unit the BTYD models predict); revenue = purchase amounts.
-- grain: one row per (product_id, user_id) of the calibration run's tiers.
-- inputs: user_tiers (calibration run), horizon_scores (the calibration run's
-- scores with expected_purchases_horizon = its expected_purchases_<horizon>d),
-- window_outcomes (temp table from outcomes/window_outcomes.sql),
-- next_purchases (temp table from evaluate/next_purchases.sql),
-- user_features (for the recency and frequency baselines).
-- params: $calibration_run_id
with final as (
    select
        tiers.product_id,
        tiers.user_id,
        tiers.tier,
        scores.frequency,
        scores.p_alive,
        scores.p_alive_activity,
        scores.expected_purchases_horizon,
        scores.clv,
        scores.recency,
        scores.t,
        scores.expected_next_purchase_at,
        next_purchases.next_purchase_at,
        features.days_since_last_seen,
        features.active_days,
        coalesce(window_outcomes.events, 0) > 0 as is_active,
        coalesce(window_outcomes.purchase_days, 0) as purchases,
        coalesce(window_outcomes.revenue, 0) as revenue
    from user_tiers as tiers
    inner join horizon_scores as scores
        on tiers.product_id = scores.product_id and tiers.user_id = scores.user_id
    inner join user_features as features
        on features.run_id = $calibration_run_id
        and tiers.product_id = features.product_id
        and tiers.user_id = features.user_id
    left join window_outcomes
        on tiers.product_id = window_outcomes.product_id and tiers.user_id = window_outcomes.user_id
    left join next_purchases
        on tiers.product_id = next_purchases.product_id and tiers.user_id = next_purchases.user_id
    where tiers.run_id = $calibration_run_id
)

select * from final
