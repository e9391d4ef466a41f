-- campaign_outcomes: for each sent or held-out user of a run's playbooks, what
-- they did in the horizon after the run's as_of. Held-out users count only if
-- they had a channel (they would have been sent), so both groups are
-- contactable users and the comparison is fair.
-- grain: one row per (product_id, user_id) sent or held out.
-- inputs: campaign_users (temp copy of the run's assignments), window_outcomes
-- (temp table from outcomes/window_outcomes.sql).
with final as (
    select
        campaign_users.product_id,
        campaign_users.user_id,
        campaign_users.playbook,
        case when campaign_users.holdout then 'holdout' else 'sent' end as arm,
        case when coalesce(window_outcomes.events, 0) > 0 then 1.0 else 0.0 end as active,
        coalesce(window_outcomes.purchase_days, 0) * 1.0 as purchases,
        coalesce(window_outcomes.revenue, 0) as revenue
    from campaign_users
    left join window_outcomes
        on campaign_users.product_id = window_outcomes.product_id
        and campaign_users.user_id = window_outcomes.user_id
    where campaign_users.suppressed_reason is null
        or (campaign_users.holdout and campaign_users.channel is not null)
)

select * from final
