-- profile_rows: one row per person for one channel of a campaign tool's
-- audience file. A person is an address (tools that key on the email or the
-- phone) or a user_id (tools that key on an external id); everyone the run
-- sends on that channel through several products or playbooks is merged into
-- one row, with the products, playbooks and tiers listed (sorted lists; the
-- profile decides how a cell shows them). A row the tool would refuse
-- carries the reason in refused_reason and is not written.
-- grain: one row per (channel, person).
-- inputs: export_rows (temp). params: $channel, $merge ('address' or
-- 'user_id'), $ascii_local_part (refuse
-- emails whose local part is not plain ASCII), $user_id_is_key (refuse ids
-- a spreadsheet would run as a formula), $formula_start (regex)
with addressed as (
    select
        *,
        case when channel = 'email' then email else phone_e164 end as address,
        case when channel = 'email' then email_key else phone_e164 end as address_key
    from export_rows
    where channel = $channel
),

people as (
    select
        channel,
        case when $merge = 'user_id' then user_id else address_key end as person,
        first(address order by clv desc nulls last, user_id) as address,
        first(user_id order by clv desc nulls last, user_id) as user_id,
        list_sort(list_distinct(list(user_id))) as user_ids,
        list_sort(list_distinct(list(product_id))) as products,
        list_sort(list_distinct(list(playbook))) as playbooks,
        list_sort(list_distinct(list(tier))) as tiers,
        list_concat(
            list_sort(list_distinct(list(playbook))), list_sort(list_distinct(list(product_id)))
        ) as tags,
        first(country order by clv desc nulls last, user_id) as country,
        sum(clv) as clv,
        max(p_alive) as p_alive,
        count(*) as source_rows
    from addressed
    group by all
)

select
    *,
    case
        when $ascii_local_part and channel = 'email'
            and regexp_matches(split_part(address, '@', 1), '[^[:ascii:]]')
            then 'non_ascii_local_part'
        when channel = 'email' and regexp_matches(address, $formula_start)
            then 'formula_like_address'
        when $user_id_is_key and regexp_matches(user_id, $formula_start)
            then 'formula_like_user_id'
    end as refused_reason
from people
