-- clv_summary: the CLV of the product's users who have one (buyers the purchase
-- model scored): how many, the median, the mean and the total.
-- grain: one row. inputs: user_scores. params: $run_id, $product
select
    count(clv) as users,
    count(*) as all_users,
    median(clv) as median_clv,
    avg(clv) as mean_clv,
    sum(clv) as total_clv
from user_scores
where run_id = $run_id and product_id = $product
