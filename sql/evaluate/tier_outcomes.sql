-- tier_outcomes: per product and tier, what its users did next. Revenue is
-- NULL when the source maps no amount (never a made-up 0).
-- grain: one row per (product_id, tier). inputs: user_outcomes.
-- params: $amount_mapped
select
    product_id,
    tier,
    count(*) as users,
    avg(case when is_active then 1.0 else 0.0 end) as share_active,
    avg(purchases) as purchases_per_user,
    case when $amount_mapped then avg(revenue) end as revenue_per_user
from user_outcomes
group by product_id, tier
