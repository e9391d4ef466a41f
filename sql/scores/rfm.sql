-- rfm: recency, frequency and monetary scores 1-5 (5 best) per product.
-- Recency = days since the last purchase, scored in the product's own rhythm
-- (product_rhythm), so that a score means the same number of days for every
-- user of a product and lines up with the tiers: 5 under half of recent_days,
-- 4 under recent_days, 3 under churn_after_days, 2 under twice that, 1 beyond
-- (with too few returning users: 15 / 30 / 90 / 180 days). Quintiles of
-- recency put a quarter of the buyers in r_score 4 or 5 however long ago they
-- bought, which on a tie-heavy, slow product called a third of them Champions.
-- Frequency = purchases and monetary = revenue_total are quintiles of the
-- mid-rank: users with equal values share one position (the middle of their
-- tie group), so equal values always get equal scores and a large tie is
-- never split at random.
-- Users without a purchase get no scores; without a mapped amount, no m_score.
-- grain: one row per (product_id, user_id) of user_features. inputs: user_features,
-- product_rhythm.
-- params: $run_id
with users as (
    select product_id, user_id, purchases, revenue_total, days_since_last_purchase
    from user_features
    where run_id = $run_id
),

rhythm as (
    select product_id, recent_days, churn_after_days
    from product_rhythm
    where run_id = $run_id
),

buyers as (
    select * from users where purchases > 0
),

positions as (
    select
        product_id,
        user_id,
        days_since_last_purchase,
        recent_days,
        churn_after_days,
        (rank() over by_frequency - 1 + cume_dist() over by_frequency * count(*) over by_product)
            / (2e0 * count(*) over by_product) as frequency_position,
        (rank() over by_monetary - 1 + cume_dist() over by_monetary * count(*) over by_product)
            / (2e0 * count(*) over by_product) as monetary_position,
        revenue_total
    from buyers
    left join rhythm using (product_id)
    window
        by_product as (partition by product_id),
        by_frequency as (partition by product_id order by purchases),
        by_monetary as (partition by product_id order by revenue_total)
),

scored as (
    select
        product_id,
        user_id,
        cast(
            case
                when days_since_last_purchase < coalesce(recent_days, 30) / 2e0 then 5
                when days_since_last_purchase < coalesce(recent_days, 30) then 4
                when days_since_last_purchase < coalesce(churn_after_days, 90) then 3
                when days_since_last_purchase < 2 * coalesce(churn_after_days, 90) then 2
                else 1
            end as integer
        ) as r_score,
        cast(least(5, 1 + floor(5 * frequency_position)) as integer) as f_score,
        case when revenue_total is not null
            then cast(least(5, 1 + floor(5 * monetary_position)) as integer)
        end as m_score
    from positions
),

final as (
    select
        users.product_id,
        users.user_id,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        cast(floor((scored.f_score + coalesce(scored.m_score, scored.f_score)) / 2e0 + 0.5)
            as integer) as fm_score
    from users
    left join scored
        on users.product_id = scored.product_id and users.user_id = scored.user_id
)

select * from final
