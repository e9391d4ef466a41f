-- rfm_grid: buyers per (recency score, frequency-monetary score) cell, each
-- with its most common segment name and average CLV; users without a purchase
-- have no scores and are counted apart (r_score NULL).
-- grain: one row per (r_score, fm_score). inputs: user_scores.
-- params: $run_id, $product
select
    r_score,
    fm_score,
    count(*) as users,
    mode(rfm_segment) as segment,
    avg(clv) as avg_clv
from user_scores
where run_id = $run_id and product_id = $product
group by r_score, fm_score
order by r_score desc nulls last, fm_score
