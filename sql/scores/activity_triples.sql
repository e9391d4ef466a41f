-- activity_triples: the activity model's input: the BTYD machinery over active
-- days (any event) instead of purchase days, so products without purchases
-- can be scored. frequency = active days after the first, recency = days from
-- first to last active day, T = days from first seen to as_of (in time units).
-- grain: one row per (product_id, frequency, recency, T). inputs: user_features.
-- params: $run_id, $unit_days
-- Sorted: the fit sums the rows in this order, so either engine gets the same fit.
select
    product_id,
    active_days - 1 as frequency,
    (tenure_days - days_since_last_seen) / $unit_days as recency,
    tenure_days / $unit_days as "T",
    count(*) as users
from user_features
where run_id = $run_id
group by all
order by product_id, frequency, recency, "T"
