-- today_tiers: users per tier in the reported run and in the previous day's run.
-- grain: one row per tier present in either run.
-- inputs: user_tiers. params: $run_id, $previous_run_id (NULL: no previous day),
-- $product
-- previous_users is NULL when there is no previous day, 0 when the tier was empty then.
with current_tiers as (
    select tier, count(*) as users
    from user_tiers
    where run_id = $run_id and product_id = $product
    group by tier
),

previous_tiers as (
    select tier, count(*) as users
    from user_tiers
    where run_id = $previous_run_id and product_id = $product
    group by tier
),

final as (
    select
        coalesce(current_tiers.tier, previous_tiers.tier) as tier,
        coalesce(current_tiers.users, 0) as users,
        case
            when cast($previous_run_id as bigint) is not null
                then coalesce(previous_tiers.users, 0)
        end as previous_users
    from current_tiers
    full outer join previous_tiers on current_tiers.tier = previous_tiers.tier
)

select *, users - previous_users as change from final
