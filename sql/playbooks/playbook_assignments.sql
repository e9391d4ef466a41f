-- playbook_assignments: per user, the playbook, the channel, holdout, and for
-- everyone not sent, why. Checks in this order: junk (never contacted),
-- no_playbook, holdout (decided before contactability, so holdout and sent
-- users are comparable; holdout users keep the channel they would have got),
-- the channel (first channel of the playbook the user can legally be reached
-- on, by channel_problems; if none, the reason of the most preferred channel),
-- frequency_cap.
-- Holdout: md5(salt, playbook, user_id) as a number in [0, 1) below the
-- playbook's share, so a user stays in or out across runs. The number is the
-- first 13 hex digits (52 bits) over 2^52, divided as doubles (exact): a
-- decimal division would round it on Spark. On Spark the hex cast is written
-- as conv(..., 16, 10) (retention/engines/spark/portable.py), the same number.
-- Frequency cap: sends to the same user_id (any product, any playbook) on the
-- days [as_of - window_days, as_of) - sends of the same as_of day do not
-- count, so a rerun of the same day is not capped by itself. A contact is one
-- (day, product, playbook, channel): running a day again or re-exporting it
-- writes the same contact again, and it counts once.
-- grain: one row per (product_id, user_id) of user_tiers.
-- inputs: user_tiers, user_playbook (temp: product_id, user_id, playbook),
-- playbook_channels (temp: playbook, channel, position, holdout_share),
-- channel_problems (temp: user_id, channel, problem; sql/contacts/), sends.
-- params: $run_id, $as_of, $salt, $max_contacts, $window_days
with tiers as (
    select product_id, user_id, tier from user_tiers where run_id = $run_id
),

chosen as (
    select tiers.*, user_playbook.playbook
    from tiers
    left join user_playbook
        on tiers.product_id = user_playbook.product_id and tiers.user_id = user_playbook.user_id
),

held_out as (
    select
        chosen.*,
        coalesce(
            cast(
                ('0x' || left(md5($salt || chr(31) || chosen.playbook || chr(31) || chosen.user_id), 13))
                    ::bigint as double
            ) / 4503599627370496e0
            < shares.holdout_share,
            false
        ) as holdout
    from chosen
    left join (select distinct playbook, holdout_share from playbook_channels) as shares
        on chosen.playbook = shares.playbook
),

reachability as (
    select
        held_out.product_id,
        held_out.user_id,
        playbook_channels.channel,
        playbook_channels.position,
        case
            when channel_problems.user_id is null then 'no_contact'
            else channel_problems.problem
        end as channel_problem
    from held_out
    inner join playbook_channels on held_out.playbook = playbook_channels.playbook
    left join channel_problems
        on held_out.user_id = channel_problems.user_id
        and playbook_channels.channel = channel_problems.channel
),

channel_choice as (
    select
        product_id,
        user_id,
        arg_min(channel, position) filter (where channel_problem is null) as channel,
        arg_min(channel_problem, position) as first_problem
    from reachability
    group by product_id, user_id
),

recent_contacts as (
    select distinct user_id, sent_on, product_id, playbook, channel
    from sends
    where sent_on >= $as_of::date - $window_days and sent_on < $as_of::date
),

recent_sends as (
    select user_id, count(*) as contacts
    from recent_contacts
    group by user_id
),

final as (
    select
        $run_id as run_id,
        held_out.product_id,
        held_out.user_id,
        held_out.tier,
        held_out.playbook,
        channel_choice.channel,
        held_out.holdout,
        case
            when held_out.tier = 'junk' then 'junk'
            when held_out.playbook is null then 'no_playbook'
            when held_out.holdout then 'holdout'
            when channel_choice.channel is null then channel_choice.first_problem
            when $max_contacts > 0 and coalesce(recent_sends.contacts, 0) >= $max_contacts
                then 'frequency_cap'
        end as suppressed_reason
    from held_out
    left join channel_choice
        on held_out.product_id = channel_choice.product_id
        and held_out.user_id = channel_choice.user_id
    left join recent_sends on held_out.user_id = recent_sends.user_id
)

select * from final
