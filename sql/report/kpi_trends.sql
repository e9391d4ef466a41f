-- kpi_trends: the KPIs of kpi_window.sql as trailing 30-day values for each day of
-- the last $days days up to as_of, from the reported run's daily_metrics. Days
-- without events count as 0, so a quiet day lowers the 30-day figures.
-- grain: one row per day. inputs: daily_metrics. params: $run_id, $product,
-- $as_of, $days
with metrics as (
    select *
    from daily_metrics
    where run_id = $run_id and product_id = $product
),

calendar as (
    select cast(generate_series as date) as day
    from generate_series(
        cast($as_of as date) - cast($days + 29 as integer),
        cast($as_of as date),
        interval 1 day
    )
),

filled as (
    select
        calendar.day,
        coalesce(metrics.unique_users, 0) as unique_users,
        coalesce(metrics.buyers, 0) as buyers,
        coalesce(metrics.orders, 0) as orders,
        metrics.gmv,
        coalesce(metrics.repeat_purchase_rate * metrics.buyers, 0) as repeat_buyers
    from calendar
    left join metrics on calendar.day = metrics.day
),

rolling as (
    select
        day,
        sum(unique_users) over last_30 as uv,
        sum(buyers) over last_30 as buyers,
        sum(orders) over last_30 as orders,
        sum(gmv) over last_30 as gmv,
        sum(repeat_buyers) over last_30 as repeat_buyers
    from filled
    window last_30 as (order by day rows between 29 preceding and current row)
),

final as (
    select
        day,
        uv / 30 as uv_per_day,
        buyers as buyers_30d,
        gmv as gmv_30d,
        buyers / nullif(uv, 0) as conversion_rate,
        gmv / nullif(orders, 0) as average_order_value,
        repeat_buyers / nullif(buyers, 0) as repeat_purchase_rate
    from rolling
    where day > cast($as_of as date) - cast($days as integer)
)

select * from final order by day
