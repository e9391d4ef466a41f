-- log_support: which metrics the product's event log can support in this run.
-- Without visit or page-view events there is no PV and no session length (a
-- "session" of one purchase lasts 0 s) and conversion is buyers over buyers;
-- without an amount column there is no GMV and no order value. The report
-- says so instead of printing 0 or 100%.
-- grain: one row. inputs: user_features. params: $run_id, $product
select
    coalesce(sum(visits + page_views), 0) > 0 as has_visits,
    coalesce(sum(page_views), 0) > 0 as has_page_views,
    coalesce(bool_or(revenue_total is not null), false) as has_amounts
from user_features
where run_id = $run_id and product_id = $product
