-- window_outcomes: what each user did in the window (as_of, as_of + horizon],
-- the outcome both backtests (retention evaluate) and campaign uplift
-- (retention uplift) measure. events = any event; purchase_days = distinct
-- purchase days (the unit the BTYD models predict); revenue = purchase amounts.
-- Users without an event in the window have no row (read: inactive, 0, 0).
-- grain: one row per (product_id, user_id) active in the window.
-- inputs: stg_events (the source staged up to as_of + horizon).
-- params: $outcome_run_id, $as_of, $horizon_days
with outcome_events as (
    select product_id, user_id, event_date, event_type, amount
    from stg_events
    where run_id = $outcome_run_id
        and event_date > $as_of::date
        and event_date <= $as_of::date + $horizon_days
),

final as (
    select
        product_id,
        user_id,
        count(*) as events,
        count(distinct event_date) filter (where event_type = 'purchase') as purchase_days,
        coalesce(sum(amount) filter (where event_type = 'purchase'), 0) as revenue
    from outcome_events
    group by product_id, user_id
)

select * from final
