-- curve_counts: users per product, curve group, duration and churn flag: the
-- Kaplan-Meier curves' inputs, counted where the lifetimes are. The Spark
-- engine runs it (a few thousand rows reach the driver instead of a row per
-- user); on DuckDB, stages/scores/survival.py counts the same in pandas.
-- grain: one row per (product_id, group_kind, group_value, duration_days,
-- is_churned).
-- inputs: user_lifetimes (survival/user_lifetimes.sql).
select
    product_id,
    'all' as group_kind,
    'all' as group_value,
    duration_days,
    is_churned,
    count(*) as users
from user_lifetimes
group by product_id, duration_days, is_churned

union all

select
    product_id,
    'acquisition_month' as group_kind,
    acquisition_month as group_value,
    duration_days,
    is_churned,
    count(*) as users
from user_lifetimes
group by product_id, acquisition_month, duration_days, is_churned

union all

select
    product_id,
    'acquisition_channel' as group_kind,
    acquisition_channel as group_value,
    duration_days,
    is_churned,
    count(*) as users
from user_lifetimes
group by product_id, acquisition_channel, duration_days, is_churned
