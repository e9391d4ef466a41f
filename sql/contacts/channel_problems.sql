-- channel_problems: per user and channel, why the user cannot be reached on it
-- (NULL: they can), checked in this order: no_contact (no address),
-- invalid_email / invalid_phone, not_mobile (SMS to a fixed line, pager,
-- voicemail, UAN or premium-rate number; calls may still ring a landline),
-- suppressed_list, malformed_contact_row, then no_email_consent /
-- no_sms_consent (the user's own rows, or another row naming the address, did
-- not say yes). Calls use the phone consent (sms_opt_in).
-- The same model decides who a run assigns and whom a re-export may still
-- write, so a re-export can only drop people.
-- grain: one row per (user_id, channel) of contacts.
-- inputs: contacts, contact_suppressions. params: $contacts_run_id
with contact as (
    select * from contacts where run_id = $contacts_run_id
),

suppressed as (
    select * from contact_suppressions where run_id = $contacts_run_id
),

channels (channel, address_kind) as (
    values ('email', 'email'), ('sms', 'phone'), ('call', 'phone')
),

user_channels as (
    select
        contact.user_id,
        channels.channel,
        channels.address_kind,
        case when channels.address_kind = 'email' then contact.email_key
            else contact.phone_e164 end as address,
        case when channels.address_kind = 'email' then contact.email_status
            else contact.phone_status end as status,
        case when channels.address_kind = 'email' then contact.email_opt_in
            else contact.sms_opt_in end as is_opted_in,
        contact.phone_type,
        contact.has_malformed_row
    from contact
    cross join channels
),

reasons as (
    select
        user_channels.user_id,
        user_channels.channel,
        bool_or(suppressed.reason = 'suppressed_list') as is_listed,
        bool_or(suppressed.reason = 'malformed_contact_row') as is_malformed,
        bool_or(suppressed.reason = 'no_consent') as is_withdrawn
    from user_channels
    inner join suppressed
        on user_channels.channel = suppressed.channel
        and user_channels.address_kind = suppressed.address_kind
        and user_channels.address = suppressed.address
    group by user_channels.user_id, user_channels.channel
),

final as (
    select
        user_channels.user_id,
        user_channels.channel,
        case
            when user_channels.status = 'missing' then 'no_contact'
            when user_channels.status <> 'valid' then
                case when user_channels.channel = 'email' then 'invalid_email'
                    else 'invalid_phone' end
            when user_channels.channel = 'sms' and user_channels.phone_type in
                ('FIXED_LINE', 'PAGER', 'VOICEMAIL', 'UAN', 'PREMIUM_RATE') then 'not_mobile'
            when coalesce(reasons.is_listed, false) then 'suppressed_list'
            when user_channels.has_malformed_row or coalesce(reasons.is_malformed, false)
                then 'malformed_contact_row'
            when not user_channels.is_opted_in or coalesce(reasons.is_withdrawn, false) then
                case when user_channels.channel = 'email' then 'no_email_consent'
                    else 'no_sms_consent' end
        end as problem
    from user_channels
    left join reasons
        on user_channels.user_id = reasons.user_id and user_channels.channel = reasons.channel
)

select * from final
