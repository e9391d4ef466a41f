-- clv_distribution: how the product's scored users spread over CLV, in $bins
-- equal-width bins from 0 to the 99th percentile; the last bin also holds the
-- top 1% (its upper bound is open), so one huge customer does not squash the
-- rest into the first bar.
-- grain: one row per bin with users (empty bins are absent).
-- inputs: user_scores. params: $run_id, $product, $bins
with scores as (
    select clv
    from user_scores
    where run_id = $run_id and product_id = $product and clv is not null
),

bounds as (
    select greatest(quantile_cont(clv, 0.99), 1e-9) as top from scores
),

binned as (
    select
        least(
            greatest(cast(floor(scores.clv / (bounds.top / $bins)) as integer), 0), $bins - 1
        ) as bin,
        bounds.top / $bins as width
    from scores cross join bounds
),

final as (
    select
        bin,
        bin * any_value(width) as low,
        (bin + 1) * any_value(width) as high,
        bin = $bins - 1 as is_open,
        count(*) as users
    from binned
    group by bin
)

select * from final order by bin
