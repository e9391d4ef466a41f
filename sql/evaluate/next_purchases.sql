-- next_purchases: each user's first purchase day in the outcome window
-- (as_of, as_of + horizon], the truth that expected_next_purchase_at is
-- checked against. Users without a purchase in the window have no row.
-- grain: one row per (product_id, user_id) with a purchase in the window.
-- inputs: stg_events (the source staged up to as_of + horizon).
-- params: $outcome_run_id, $as_of, $horizon_days
select product_id, user_id, min(event_date) as next_purchase_at
from stg_events
where run_id = $outcome_run_id
    and event_type = 'purchase'
    and event_date > $as_of::date
    and event_date <= $as_of::date + $horizon_days
group by product_id, user_id
