-- last_uplift: the latest measurement of each playbook's effect on the share of
-- users active in the horizon (sent minus holdout, with its 95% interval),
-- from campaigns of runs up to the reported one: the reported product's row,
-- or the pooled row (product_id NULL) of a measurement made before per-product
-- rows existed.
-- grain: one row per playbook. inputs: uplift_results. params: $run_id, $product
select *
from uplift_results
where metric = 'active' and run_id <= $run_id and (product_id = $product or product_id is null)
qualify row_number() over (
    partition by playbook order by run_id desc, measured_at desc, product_id nulls last
) = 1
