-- cohort_retention: of the users first seen in a month, how many came back N
-- days later. Defined from events, not from a sign-up field: a user's day 0 is
-- the day of their first event of the product (first_seen_date, pipeline
-- timezone), whatever its type.
-- grain: one row per (product_id, cohort_month, day_n), day_n in
-- (1, 7, 14, 30, 60, 90, 180, 365); every cohort gets all eight rows.
-- inputs: user_days (the run's day roll-up, features/user_days.sql).
-- params: $run_id, $as_of
-- Definitions:
--   cohort_month          'YYYY-MM' of first_seen_date.
--   cohort_users          all users of the cohort.
--   eligible_users        users whose day N (first_seen_date + N) is on or
--                         before as_of. Only they could have been seen on
--                         day N, so a young cohort is not counted as lost.
--   retained_on_day       eligible users with an event on day N itself.
--   retained_on_or_after  eligible users with an event on day N or later
--                         ("unbounded" retention: they came back at least N
--                         days after their first day). Always >= retained_on_day.
--   retention_on_day      retained_on_day / eligible_users.
--   retention_unbounded   retained_on_or_after / eligible_users.
--   Both rates are NULL when no user of the cohort is eligible yet.
with events as (
    -- one row per user and day with an event is all this needs
    select product_id, user_id, event_date from user_days
),

day_numbers (day_n) as (
    values (1), (7), (14), (30), (60), (90), (180), (365)
),

users as (
    select
        product_id,
        user_id,
        min(event_date) as first_seen_date,
        max(event_date) as last_seen_date
    from events
    group by product_id, user_id
),

returns_on_day as (
    -- the (user, day N) pairs with an event exactly on day N
    select
        users.product_id,
        users.user_id,
        date_diff('day', users.first_seen_date, events.event_date) as day_n
    from events
    inner join users
        on events.product_id = users.product_id
        and events.user_id = users.user_id
    where date_diff('day', users.first_seen_date, events.event_date)
        in (select day_n from day_numbers)
),

user_day_numbers as (
    select
        users.product_id,
        users.user_id,
        strftime(users.first_seen_date, '%Y-%m') as cohort_month,
        day_numbers.day_n,
        users.first_seen_date + day_numbers.day_n <= $as_of::date as is_eligible,
        returns_on_day.user_id is not null as is_back_on_day,
        users.last_seen_date >= users.first_seen_date + day_numbers.day_n as is_back_on_or_after
    from users
    cross join day_numbers
    left join returns_on_day
        on users.product_id = returns_on_day.product_id
        and users.user_id = returns_on_day.user_id
        and day_numbers.day_n = returns_on_day.day_n
),

cohorts as (
    select
        product_id,
        cohort_month,
        day_n,
        count(*) as cohort_users,
        count(*) filter (where is_eligible) as eligible_users,
        count(*) filter (where is_eligible and is_back_on_day) as retained_on_day,
        count(*) filter (where is_eligible and is_back_on_or_after) as retained_on_or_after
    from user_day_numbers
    group by product_id, cohort_month, day_n
),

final as (
    select
        $run_id as run_id,
        product_id,
        cohort_month,
        cohort_users,
        cast(day_n as integer) as day_n,
        eligible_users,
        retained_on_day,
        retained_on_or_after,
        retained_on_day / nullif(eligible_users, 0) as retention_on_day,
        retained_on_or_after / nullif(eligible_users, 0) as retention_unbounded
    from cohorts
)

select * from final
