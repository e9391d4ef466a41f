-- user_outcomes: what each user scored at as_of did in the next horizon.
-- active = any event in (as_of, as_of + horizon]; purchases = distinct purchase
-- days (the unit the BTYD models predict); revenue = purchase amounts.
-- grain: one row per (product_id, user_id) of the calibration run's tiers.
-- inputs: user_tiers (calibration run), horizon_scores (the calibration run's
-- scores with expected_purchases_horizon = its expected_purchases_<horizon>d),
-- stg_events (outcome run).
-- params: $calibration_run_id, $outcome_run_id, $as_of, $horizon_days
with outcome_events as (
    select product_id, user_id, event_date, event_type, amount
    from stg_events
    where run_id = $outcome_run_id
        and event_date > $as_of::date
        and event_date <= $as_of::date + $horizon_days
),

per_user as (
    select
        product_id,
        user_id,
        count(*) as events,
        count(distinct event_date) filter (where event_type = 'purchase') as purchase_days,
        coalesce(sum(amount) filter (where event_type = 'purchase'), 0) as revenue
    from outcome_events
    group by product_id, user_id
),

final as (
    select
        tiers.product_id,
        tiers.user_id,
        tiers.tier,
        scores.frequency,
        scores.p_alive,
        scores.p_alive_activity,
        scores.expected_purchases_horizon,
        coalesce(per_user.events, 0) > 0 as is_active,
        coalesce(per_user.purchase_days, 0) as purchases,
        coalesce(per_user.revenue, 0) as revenue
    from user_tiers as tiers
    inner join horizon_scores as scores
        on tiers.product_id = scores.product_id and tiers.user_id = scores.user_id
    left join per_user
        on tiers.product_id = per_user.product_id and tiers.user_id = per_user.user_id
    where tiers.run_id = $calibration_run_id
)

select * from final
