-- tier_movements: users whose tier changed since the previous day's run, per
-- (from, to) pair, with the CLV they carry now (user_scores.clv of the
-- reported run: the value that moved). Users first seen since then come
-- from '(none)'.
-- grain: one row per (from_tier, to_tier) with from_tier <> to_tier.
-- inputs: user_tiers, user_scores. params: $run_id, $previous_run_id, $product
with current_tiers as (
    select user_id, tier from user_tiers where run_id = $run_id and product_id = $product
),

previous_tiers as (
    select user_id, tier
    from user_tiers
    where run_id = $previous_run_id and product_id = $product
),

scores as (
    select user_id, clv from user_scores where run_id = $run_id and product_id = $product
),

moved as (
    select
        coalesce(previous_tiers.tier, '(none)') as from_tier,
        current_tiers.tier as to_tier,
        current_tiers.user_id
    from current_tiers
    left join previous_tiers on current_tiers.user_id = previous_tiers.user_id
    where previous_tiers.tier is distinct from current_tiers.tier
),

final as (
    select
        moved.from_tier,
        moved.to_tier,
        count(*) as users,
        sum(scores.clv) as clv
    from moved
    left join scores on moved.user_id = scores.user_id
    group by moved.from_tier, moved.to_tier
)

select * from final order by users desc, from_tier, to_tier
