-- kpi_window: the operator's KPIs over the 30 days ending on $end (inclusive),
-- from one run's daily_metrics. Days without events count as days with 0.
-- grain: one row. inputs: daily_metrics. params: $window_run_id, $product, $end
-- Definitions:
--   days               days of the window with any event (0: no data there).
--   uv_per_day         sum of daily UV / 30 (a user active on 3 days counts 3 times).
--   pv_per_day         sum of daily PV / 30.
--   buyers_30d         sum of daily buyers (a user buying on 3 days counts 3 times).
--   orders_30d, gmv_30d  sums; gmv_30d is NULL when the log has no amounts.
--   conversion_rate    sum of buyers / sum of UV: the day-weighted daily conversion.
--   average_order_value  gmv_30d / orders_30d.
--   repeat_purchase_rate  repeat buyers / buyers, summed over the days.
--   avg_session_seconds  session-weighted mean of the daily averages.
with days as (
    select *
    from daily_metrics
    where
        run_id = $window_run_id
        and product_id = $product
        and day > cast($end as date) - 30
        and day <= cast($end as date)
),

final as (
    select
        count(*) as days,
        coalesce(sum(unique_users), 0) / 30 as uv_per_day,
        coalesce(sum(page_views), 0) / 30 as pv_per_day,
        coalesce(sum(buyers), 0) as buyers_30d,
        coalesce(sum(orders), 0) as orders_30d,
        sum(gmv) as gmv_30d,
        sum(buyers) / nullif(sum(unique_users), 0) as conversion_rate,
        sum(gmv) / nullif(sum(orders), 0) as average_order_value,
        sum(repeat_purchase_rate * buyers) / nullif(sum(buyers), 0) as repeat_purchase_rate,
        sum(avg_session_seconds * sessions) / nullif(sum(sessions), 0) as avg_session_seconds
    from days
)

select * from final
