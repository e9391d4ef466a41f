-- user_lifetimes: how long each user has lived in a product, whether their
-- churn is observed, and baseline covariates for the hazard model.
-- A user's churn is observed (is_churned) when nobody has seen them for
-- $churn_after_days days or more before as_of; their lifetime then ends on
-- their last seen day. Everyone else is censored at as_of. Durations count
-- the calendar days lived, both ends included: a user seen on one day only
-- lived 1 day (not 0, which would put every single-day user's churn at day 0
-- and start the Kaplan-Meier curve well below 1), and a user first seen on
-- as_of has been around for 1 day.
-- The covariates count events on the first seen day and the 6 days after it,
-- never later, so the hazard model cannot peek at what happened afterwards.
-- baseline_days says how many of those 7 days lie on or before as_of: users
-- first seen in the last 6 days have an incomplete first week.
-- grain: one row per (product_id, user_id) of user_features.
-- inputs: user_features, user_days (the run's day roll-up,
-- features/user_days.sql). params: $run_id, $as_of, $churn_after_days
with users as (
    select
        product_id,
        user_id,
        acquisition_channel,
        -- first and last seen calendar days, as user_features counted them
        -- (the day counts as integers: Spark subtracts only an INT from a date)
        $as_of::date - cast(tenure_days as integer) as first_seen_date,
        $as_of::date - cast(days_since_last_seen as integer) as last_seen_date
    from user_features
    where run_id = $run_id
),

days as (
    select product_id, user_id, event_date, events, page_views, purchases
    from user_days
),

seen as (
    select product_id, user_id, first_seen_date, last_seen_date from users
),

first_week as (
    select
        days.product_id,
        days.user_id,
        sum(days.events) as events_first_7d,
        count(*) as active_days_first_7d,
        sum(days.page_views) as page_views_first_7d,
        case when sum(days.purchases) > 0 then 1 else 0 end as purchased_first_7d
    from days
    inner join seen
        on days.product_id = seen.product_id and days.user_id = seen.user_id
    where date_diff('day', seen.first_seen_date, days.event_date) < 7
    group by days.product_id, days.user_id
),

lifetimes as (
    select
        users.product_id,
        users.user_id,
        seen.first_seen_date,
        seen.last_seen_date,
        date_diff('day', seen.last_seen_date, $as_of::date) >= $churn_after_days as is_churned,
        strftime(seen.first_seen_date, '%Y-%m') as acquisition_month,
        coalesce(users.acquisition_channel, 'unknown') as acquisition_channel,
        least(7, date_diff('day', seen.first_seen_date, $as_of::date) + 1) as baseline_days
    from users
    inner join seen
        on users.product_id = seen.product_id and users.user_id = seen.user_id
),

final as (
    select
        lifetimes.product_id,
        lifetimes.user_id,
        lifetimes.first_seen_date,
        lifetimes.last_seen_date,
        case
            when lifetimes.is_churned
                then date_diff('day', lifetimes.first_seen_date, lifetimes.last_seen_date) + 1
            else date_diff('day', lifetimes.first_seen_date, $as_of::date) + 1
        end as duration_days,
        lifetimes.is_churned,
        lifetimes.acquisition_month,
        lifetimes.acquisition_channel,
        lifetimes.baseline_days,
        first_week.events_first_7d,
        first_week.active_days_first_7d,
        first_week.page_views_first_7d,
        first_week.purchased_first_7d
    from lifetimes
    inner join first_week
        on lifetimes.product_id = first_week.product_id
        and lifetimes.user_id = first_week.user_id
)

select * from final
