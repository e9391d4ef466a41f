-- address_consent: per valid address (an email by its email_key, a phone in
-- E.164), who names it and whether every row that names it grants consent
-- for its channel. A row that does not (an opt-out, an unreadable or missing
-- value, a row of a malformed line) withdraws consent for the address for
-- everyone who has it: a family inbox or a shared phone where one person
-- said no is not reached through the others. Only valid addresses are
-- compared, so junk such as "a@b" or "n/a" repeated across users links nobody.
-- grain: one row per (address_kind, address). address_kind: email | phone.
-- inputs: checked_contact_rows
with contact as (
    select * from checked_contact_rows
),

address_rows as (
    select 'email' as address_kind, email_key as address, user_id, email_grants as grants,
        is_malformed
    from contact
    where email_key is not null
    union all
    select 'phone' as address_kind, phone_e164 as address, user_id, sms_grants as grants,
        is_malformed
    from contact
    where phone_e164 is not null
),

final as (
    select
        address_kind,
        address,
        count(distinct user_id) as users,
        count(*) filter (where not grants) as withdrawing_rows,
        count(*) filter (where not grants and user_id is null) as withdrawing_anonymous_rows,
        coalesce(bool_or(is_malformed), false) as is_in_malformed_line
    from address_rows
    group by address_kind, address
)

select * from final
