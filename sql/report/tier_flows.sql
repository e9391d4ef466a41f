-- tier_flows: every user's tier in the previous day's run against the reported
-- run's: '(none)' for users first seen since, '(gone)' for users no longer
-- scored. Staying users count too, so each row of the matrix adds up.
-- grain: one row per (from_tier, to_tier).
-- inputs: user_tiers. params: $run_id, $previous_run_id, $product
with current_tiers as (
    select user_id, tier from user_tiers where run_id = $run_id and product_id = $product
),

previous_tiers as (
    select user_id, tier
    from user_tiers
    where run_id = $previous_run_id and product_id = $product
)

select
    coalesce(previous_tiers.tier, '(none)') as from_tier,
    coalesce(current_tiers.tier, '(gone)') as to_tier,
    count(*) as users
from current_tiers
full outer join previous_tiers on current_tiers.user_id = previous_tiers.user_id
group by all
order by users desc
