-- contacts: one resolved contact per user for this run.
-- grain: one row per user_id named by a well-formed row. inputs:
-- checked_contact_rows, address_consent. params: $run_id
-- Several rows of one user: the last well-formed row in file order gives
-- email, phone and country (contact exports are appended to, so the newest
-- row is last). Consent needs every row of the user to grant it: an opt-out,
-- or an unreadable or missing value, in any row is never lost to a yes in a
-- row that may be older (a malformed line naming the user counts as such a
-- row, has_malformed_row). email_opt_in / sms_opt_in are the user's own
-- consent; the *_shared_opt_out flags say that a row of someone else (or of
-- nobody) names the same address without granting consent, which suppresses
-- it too.
with contact as (
    select * from checked_contact_rows where user_id is not null
),

users as (
    select
        user_id,
        coalesce(bool_and(email_grants), false) as email_opt_in,
        coalesce(bool_and(sms_grants), false) as sms_opt_in,
        coalesce(bool_or(is_malformed), false) as has_malformed_row,
        count(*) filter (where not is_malformed) as source_rows
    from contact
    group by user_id
    having count(*) filter (where not is_malformed) > 0
),

ranked as (
    select
        contact.*,
        row_number() over (
            partition by user_id order by file_index desc, file_row desc
        ) as newest_first
    from contact
    where not is_malformed
),

newest as (
    select * from ranked where newest_first = 1
),

own_withdrawals as (
    select user_id, 'email' as address_kind, email_key as address, count(*) as rows
    from contact
    where email_key is not null and not email_grants
    group by user_id, email_key
    union all
    select user_id, 'phone' as address_kind, phone_e164 as address, count(*) as rows
    from contact
    where phone_e164 is not null and not sms_grants
    group by user_id, phone_e164
),

address_consent as (
    select * from address_consent
),

final as (
    select
        $run_id as run_id,
        newest.user_id,
        newest.email,
        newest.email_key,
        newest.email_status,
        newest.email_problem,
        newest.phone_raw,
        newest.phone_e164,
        newest.phone_status,
        newest.phone_type,
        newest.country,
        users.email_opt_in,
        users.sms_opt_in,
        coalesce(email_consent.withdrawing_rows, 0) > coalesce(own_email.rows, 0)
            as email_shared_opt_out,
        coalesce(phone_consent.withdrawing_rows, 0) > coalesce(own_phone.rows, 0)
            as phone_shared_opt_out,
        users.has_malformed_row,
        cast(users.source_rows as integer) as source_rows
    from newest
    inner join users on newest.user_id = users.user_id
    left join address_consent as email_consent
        on email_consent.address_kind = 'email' and newest.email_key = email_consent.address
    left join own_withdrawals as own_email
        on own_email.address_kind = 'email'
        and own_email.user_id = newest.user_id
        and own_email.address = newest.email_key
    left join address_consent as phone_consent
        on phone_consent.address_kind = 'phone' and newest.phone_e164 = phone_consent.address
    left join own_withdrawals as own_phone
        on own_phone.address_kind = 'phone'
        and own_phone.user_id = newest.user_id
        and own_phone.address = newest.phone_e164
)

select * from final
