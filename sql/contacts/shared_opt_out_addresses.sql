-- shared_opt_out_addresses: valid addresses that two or more users list (in
-- any of their rows) and that at least one of those users opted out of on that
-- channel (an explicit no in any of their rows). Such an address is suppressed
-- for every user who has it: a family inbox or a shared phone where one person
-- said no must not be reached through the others. Missing or unreadable
-- consent is not an opt-out here. Only valid addresses are compared, so junk
-- such as "a@b" or "n/a" repeated across users links nobody.
-- grain: one row per (address_kind, address). address_kind: email | phone;
-- an email address is its email_key, a phone its E.164 form.
-- inputs: checked_contact_rows
with contact as (
    select * from checked_contact_rows
),

user_opt_outs as (
    select
        user_id,
        coalesce(bool_or(email_opt_in_value = false), false) as has_email_opt_out,
        coalesce(bool_or(sms_opt_in_value = false), false) as has_sms_opt_out
    from contact
    group by user_id
),

address_users as (
    select distinct 'email' as address_kind, email_key as address, user_id
    from contact
    where email_key is not null
    union all
    select distinct 'phone' as address_kind, phone_e164 as address, user_id
    from contact
    where phone_e164 is not null
),

final as (
    select
        address_users.address_kind,
        address_users.address,
        count(*) as users,
        count(*) filter (
            where case address_users.address_kind
                when 'email' then user_opt_outs.has_email_opt_out
                else user_opt_outs.has_sms_opt_out
            end
        ) as opted_out_users
    from address_users
    inner join user_opt_outs
        on address_users.user_id = user_opt_outs.user_id
    group by address_users.address_kind, address_users.address
    having count(*) >= 2 and opted_out_users >= 1
)

select * from final
