-- daily_metrics: the numbers an operator reads every morning, per product and day.
-- grain: one row per (product_id, day) with at least one event; day = event_date,
-- the calendar day in the pipeline's timezone.
-- inputs: user_days (features/user_days.sql), user_timelines
-- (features/user_timelines.sql), user_features
-- (only to tell whether amounts are mapped). params: $run_id
-- Definitions:
--   page_views            PV: events of type page_view that day.
--   unique_users          UV: distinct users with any event that day.
--   sessions              sessions that start that day. A session starts at a
--                         user's first event or after more than
--                         session_gap_minutes without one (see
--                         features/user_timelines.sql); a session that runs past
--                         midnight counts on the day it started only, so a day
--                         can have events and 0 sessions.
--   avg_session_seconds   mean dwell (last minus first event, in seconds; 0 for
--                         a one-event session) of the sessions counted that
--                         day; NULL when none starts that day.
--   buyers                distinct users with a purchase that day.
--   orders                purchase events that day.
--   gmv                   sum of purchase amounts (gross, refunds not
--                         deducted); 0 on a day without purchases, NULL when
--                         the pipeline maps no amount column.
--   conversion_rate       buyers / unique_users.
--   average_order_value   gmv / orders; NULL on a day without orders.
--   repeat_purchase_rate  share of the day's buyers whose first purchase was on
--                         an earlier day (a second order on the same first day
--                         does not make a repeat buyer); NULL without buyers.
with days as (
    -- one row per user and day with an event (features/user_days.sql)
    select * from user_days
),

amounts as (
    -- user_purchases.revenue_total is NULL for every user exactly when no
    -- amount column is mapped; 0 would be a made-up GMV
    select coalesce(bool_or(revenue_total is not null), false) as is_amount_mapped
    from user_features
    where run_id = $run_id
),

sessions as (
    select product_id, unnest(session_list, recursive := true)
    from user_timelines
),

daily_sessions as (
    select
        product_id,
        start_date as day,
        count(*) as sessions,
        avg(session_seconds) as avg_session_seconds
    from sessions
    group by product_id, start_date
),

daily_events as (
    select
        product_id,
        event_date as day,
        sum(page_views) as page_views,
        count(*) as unique_users,
        sum(purchases) as orders,
        sum(purchase_amount) as purchase_amount
    from days
    group by product_id, event_date
),

buyer_days as (
    select
        product_id,
        user_id,
        event_date as day,
        min(event_date) over (partition by product_id, user_id) as first_purchase_date
    from days
    where purchases > 0
),

daily_buyers as (
    select
        product_id,
        day,
        count(*) as buyers,
        count(*) filter (where first_purchase_date < day) as repeat_buyers
    from buyer_days
    group by product_id, day
),

final as (
    select
        $run_id as run_id,
        daily_events.product_id,
        daily_events.day,
        daily_events.page_views,
        daily_events.unique_users,
        coalesce(daily_sessions.sessions, 0) as sessions,
        daily_sessions.avg_session_seconds,
        coalesce(daily_buyers.buyers, 0) as buyers,
        daily_events.orders,
        case
            when amounts.is_amount_mapped then coalesce(daily_events.purchase_amount, 0)
        end as gmv,
        coalesce(daily_buyers.buyers, 0) / daily_events.unique_users as conversion_rate,
        case
            when amounts.is_amount_mapped and daily_events.orders > 0
                then coalesce(daily_events.purchase_amount, 0) / daily_events.orders
        end as average_order_value,
        daily_buyers.repeat_buyers / daily_buyers.buyers as repeat_purchase_rate
    from daily_events
    cross join amounts
    left join daily_sessions
        on daily_events.product_id = daily_sessions.product_id
        and daily_events.day = daily_sessions.day
    left join daily_buyers
        on daily_events.product_id = daily_buyers.product_id
        and daily_events.day = daily_buyers.day
)

select * from final
