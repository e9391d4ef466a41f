-- lifecycle: users per tier on each published as_of day (one run per day).
-- grain: one row per (as_of, tier). inputs: user_tiers, runs.
-- params: $run_ids (the runs standing for the days, see run_days.sql), $product
select
    runs.as_of,
    user_tiers.tier,
    count(*) as users
from user_tiers
inner join runs on user_tiers.run_id = runs.run_id
where user_tiers.run_id in (select unnest(cast($run_ids as bigint[]))) and user_tiers.product_id = $product
group by runs.as_of, user_tiers.tier
order by runs.as_of, user_tiers.tier
