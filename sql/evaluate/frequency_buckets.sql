-- frequency_buckets: the purchase model's predicted vs actual purchases by
-- calibration frequency (repeat purchase days before as_of: 0, 1, ..., 7+),
-- the standard BTYD calibration/holdout check.
-- grain: one row per (product_id, bucket). inputs: user_outcomes (buyers only).
select
    product_id,
    case when frequency >= 7 then '7+' else cast(frequency as varchar) end as bucket,
    count(*) as users,
    avg(expected_purchases_horizon) as predicted_per_user,
    avg(purchases) as actual_per_user
from user_outcomes
where frequency is not null and expected_purchases_horizon is not null
group by all
order by product_id, min(frequency)
