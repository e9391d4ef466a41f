-- calibration: the product's latest backtest (evaluations, the newest
-- evaluation_id): every row, for the calibration chart (section
-- frequency_bucket: predicted vs actual purchases per user by calibration
-- frequency), the tier ordering check (section policy) and the tier outcomes.
-- grain: one row per (section, label, metric). inputs: evaluations.
-- params: $product
select *
from evaluations
where
    product_id = $product
    and evaluation_id = (
        select max(evaluation_id) from evaluations where product_id = $product
    )
order by section, label, metric
