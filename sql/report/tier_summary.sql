-- tier_summary (report): the tier_summary view for any run, not only the
-- published one: users, share, average CLV and 30-day revenue per tier.
-- grain: one row per tier. inputs: user_tiers, user_scores, user_features.
-- params: $run_id, $product
with tiers as (
    select user_id, tier from user_tiers where run_id = $run_id and product_id = $product
),

scores as (
    select user_id, clv from user_scores where run_id = $run_id and product_id = $product
),

features as (
    select user_id, revenue_30d
    from user_features
    where run_id = $run_id and product_id = $product
)

select
    tiers.tier,
    count(*) as users,
    count(*) / sum(count(*)) over () as share,
    avg(scores.clv) as avg_clv,
    sum(features.revenue_30d) as revenue_30d
from tiers
left join scores on tiers.user_id = scores.user_id
left join features on tiers.user_id = features.user_id
group by tiers.tier
