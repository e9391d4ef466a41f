-- campaign_outcomes: for each sent or held-out user of a run's playbooks, what
-- they did in the horizon after the run's as_of. Held-out users count only if
-- they had a channel (they would have been sent), so both groups are
-- contactable users and the comparison is fair.
-- grain: one row per (product_id, user_id) sent or held out.
-- inputs: campaign_users (temp copy of the run's assignments), stg_events
-- (staged up to as_of + horizon). params: $outcome_run_id, $as_of, $horizon_days
with outcome_events as (
    select product_id, user_id, event_date, event_type, amount
    from stg_events
    where run_id = $outcome_run_id
        and event_date > $as_of::date
        and event_date <= $as_of::date + $horizon_days
),

per_user as (
    select
        product_id,
        user_id,
        count(*) as events,
        count(distinct event_date) filter (where event_type = 'purchase') as purchases,
        coalesce(sum(amount) filter (where event_type = 'purchase'), 0) as revenue
    from outcome_events
    group by product_id, user_id
),

final as (
    select
        campaign_users.product_id,
        campaign_users.user_id,
        campaign_users.playbook,
        case when campaign_users.holdout then 'holdout' else 'sent' end as arm,
        case when coalesce(per_user.events, 0) > 0 then 1.0 else 0.0 end as active,
        coalesce(per_user.purchases, 0) * 1.0 as purchases,
        coalesce(per_user.revenue, 0) as revenue
    from campaign_users
    left join per_user
        on campaign_users.product_id = per_user.product_id
        and campaign_users.user_id = per_user.user_id
    where campaign_users.suppressed_reason is null
        or (campaign_users.holdout and campaign_users.channel is not null)
)

select * from final
