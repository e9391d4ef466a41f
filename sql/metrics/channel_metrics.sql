-- channel_metrics: what each acquisition channel brought in, and at what cost.
-- grain: one row per (product_id, acquisition_channel) that acquired a user or
-- has spend. inputs: user_features, user_tiers, cost_rows (temp table; empty
-- when no costs source is given). params: $run_id, $as_of
-- Definitions:
--   acquisition_channel   channel of the user's first event that has one
--                         (user_features); 'unknown' when none of the user's
--                         events carries a channel.
--   users_acquired        users of the product acquired through the channel.
--   active_users, core_users
--                         of those, users in tier 'active' / 'core' in this run.
--   share_active, share_core
--                         active_users / users_acquired, core_users / users_acquired.
--   revenue_total, revenue_30d
--                         sums of the users' revenue (purchase amounts, gross)
--                         over all time / the 30 days ending on as_of; NULL when
--                         the pipeline maps no amount column.
--   spend                 cost rows of the channel dated on or before as_of,
--                         summed (later days pay for users not yet acquired).
--                         A cost row without product_id counts for every
--                         product. NULL when no costs source is given or it has
--                         no usable row for the channel: unknown, not free.
--   cost_per_user         spend / users_acquired; NULL without users.
--   roi                   (revenue_total - spend) / spend; NULL when spend is 0.
--                         A channel with spend and no users has roi -1.
with users as (
    select
        features.product_id,
        coalesce(features.acquisition_channel, 'unknown') as acquisition_channel,
        features.revenue_total,
        features.revenue_30d,
        tiers.tier
    from user_features as features
    left join user_tiers as tiers
        on features.run_id = tiers.run_id
        and features.product_id = tiers.product_id
        and features.user_id = tiers.user_id
    where features.run_id = $run_id
),

amounts as (
    -- revenue_total is NULL for every user exactly when no amount column is mapped
    select coalesce(bool_or(revenue_total is not null), false) as is_amount_mapped
    from users
),

channels as (
    select
        product_id,
        acquisition_channel,
        count(*) as users_acquired,
        count(*) filter (where tier = 'active') as active_users,
        count(*) filter (where tier = 'core') as core_users,
        sum(revenue_total) as revenue_total,
        sum(revenue_30d) as revenue_30d
    from users
    group by product_id, acquisition_channel
),

products as (
    select distinct product_id from users
),

channel_spend as (
    select
        products.product_id,
        costs.channel as acquisition_channel,
        sum(costs.spend) as spend
    from cost_rows as costs
    inner join products
        on costs.product_id is null or costs.product_id = products.product_id
    where costs.reject_reason is null and costs.day <= $as_of::date
    group by products.product_id, costs.channel
),

joined as (
    select
        coalesce(channels.product_id, channel_spend.product_id) as product_id,
        coalesce(channels.acquisition_channel, channel_spend.acquisition_channel)
            as acquisition_channel,
        coalesce(channels.users_acquired, 0) as users_acquired,
        coalesce(channels.active_users, 0) as active_users,
        coalesce(channels.core_users, 0) as core_users,
        case
            when amounts.is_amount_mapped then coalesce(channels.revenue_total, 0)
        end as revenue_total,
        case
            when amounts.is_amount_mapped then coalesce(channels.revenue_30d, 0)
        end as revenue_30d,
        channel_spend.spend
    from channels
    full outer join channel_spend
        on channels.product_id = channel_spend.product_id
        and channels.acquisition_channel = channel_spend.acquisition_channel
    cross join amounts
),

final as (
    select
        $run_id as run_id,
        product_id,
        acquisition_channel,
        users_acquired,
        active_users,
        core_users,
        active_users / nullif(users_acquired, 0) as share_active,
        core_users / nullif(users_acquired, 0) as share_core,
        revenue_total,
        revenue_30d,
        spend,
        spend / nullif(users_acquired, 0) as cost_per_user,
        (revenue_total - spend) / nullif(spend, 0) as roi
    from joined
)

select * from final
