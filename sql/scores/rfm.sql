-- rfm: recency, frequency and monetary scores 1-5 (5 best) per product.
-- Recency = days since the last purchase, frequency = purchases, monetary =
-- revenue_total. Scores are quintiles of the mid-rank: users with equal values
-- share one position (the middle of their tie group), so equal values always
-- get equal scores and a large tie is never split at random.
-- Users without a purchase get no scores; without a mapped amount, no m_score.
-- grain: one row per (product_id, user_id) of user_features. inputs: user_features.
-- params: $run_id
with users as (
    select product_id, user_id, purchases, revenue_total, days_since_last_purchase
    from user_features
    where run_id = $run_id
),

buyers as (
    select * from users where purchases > 0
),

positions as (
    select
        product_id,
        user_id,
        (rank() over by_recency - 1 + cume_dist() over by_recency * count(*) over by_product)
            / (2.0 * count(*) over by_product) as recency_position,
        (rank() over by_frequency - 1 + cume_dist() over by_frequency * count(*) over by_product)
            / (2.0 * count(*) over by_product) as frequency_position,
        (rank() over by_monetary - 1 + cume_dist() over by_monetary * count(*) over by_product)
            / (2.0 * count(*) over by_product) as monetary_position,
        revenue_total
    from buyers
    window
        by_product as (partition by product_id),
        by_recency as (partition by product_id order by days_since_last_purchase desc),
        by_frequency as (partition by product_id order by purchases),
        by_monetary as (partition by product_id order by revenue_total)
),

scored as (
    select
        product_id,
        user_id,
        cast(least(5, 1 + floor(5 * recency_position)) as integer) as r_score,
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
        cast(floor((scored.f_score + coalesce(scored.m_score, scored.f_score)) / 2.0 + 0.5)
            as integer) as fm_score
    from users
    left join scored
        on users.product_id = scored.product_id and users.user_id = scored.user_id
)

select * from final
