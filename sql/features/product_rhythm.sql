-- product_rhythm: each product's own rhythm, measured on its own users up to
-- as_of, so that a daily app, a weekly shop and a bimonthly B2B account each
-- get windows that fit them in one run.
-- Method: the gaps between consecutive active days of returning users (every
-- gap counts once). Their median is how long users normally stay away
-- (onboarding_days: a user younger than that cannot be judged yet); their
-- 75th percentile bounds "seen recently" (recent_days); their 95th percentile
-- is a silence that returning users rarely keep (churn_after_days, at least
-- twice recent_days). Clamped to sensible ranges; with fewer than $min_gaps
-- gaps a product keeps the fixed windows 14 / 30 / 90 days.
-- grain: one row per product_id. inputs: user_days (temp). params: $run_id,
-- $min_gaps
with days as (
    select product_id, user_id, event_date from user_days
),

gaps as (
    select
        product_id,
        user_id,
        date_diff(
            'day',
            lag(event_date) over (partition by product_id, user_id order by event_date),
            event_date
        ) as gap_days
    from days
),

measured as (
    select
        product_id,
        count(gap_days) as gaps,
        count(distinct user_id) filter (where gap_days is not null) as returning_users,
        quantile_cont(gap_days, 0.5) as gap_p50_days,
        quantile_cont(gap_days, 0.75) as gap_p75_days,
        quantile_cont(gap_days, 0.95) as gap_p95_days
    from gaps
    group by product_id
),

windows as (
    select
        measured.*,
        measured.gaps >= $min_gaps as is_measured,
        greatest(14, least(180, ceil(measured.gap_p50_days))) as measured_onboarding,
        greatest(7, least(365, ceil(measured.gap_p75_days))) as measured_recent,
        least(730, ceil(measured.gap_p95_days)) as measured_churn
    from measured
),

final as (
    select
        $run_id as run_id,
        product_id,
        returning_users,
        gaps,
        gap_p50_days,
        gap_p75_days,
        gap_p95_days,
        cast(case when is_measured then measured_onboarding else 14 end as integer)
            as onboarding_days,
        cast(case when is_measured then measured_recent else 30 end as integer) as recent_days,
        cast(
            case when is_measured then greatest(2 * measured_recent, measured_churn) else 90 end
            as integer
        ) as churn_after_days,
        case
            when is_measured then 'gaps between active days of returning users'
            else 'fixed 14 / 30 / 90 days: fewer than ' || cast($min_gaps as varchar) || ' gaps'
        end as method
    from windows
)

select * from final
