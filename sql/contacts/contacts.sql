-- contacts: one resolved contact per user for this run.
-- grain: one row per user_id. inputs: checked_contact_rows,
-- shared_opt_out_addresses. params: $run_id
-- Several rows of one user: the last row in file order gives email, phone and
-- country (contact exports are appended to, so the newest row is last). Consent
-- needs the last row to opt in AND no row of the user to opt out: an opt-out
-- is never lost to an opt-in from a row that may be older. Missing or
-- unreadable consent is no consent. email_opt_in / sms_opt_in are the user's
-- own consent; the *_shared_opt_out flags say that someone else who shares the
-- address opted out, which suppresses it too.
with contact as (
    select * from checked_contact_rows
),

ranked as (
    select
        contact.*,
        row_number() over (
            partition by user_id order by file_index desc, file_row desc
        ) as newest_first,
        count(*) over (partition by user_id) as source_rows,
        coalesce(bool_or(email_opt_in_value = false) over (partition by user_id), false)
            as has_email_opt_out,
        coalesce(bool_or(sms_opt_in_value = false) over (partition by user_id), false)
            as has_sms_opt_out
    from contact
),

newest as (
    select * from ranked where newest_first = 1
),

shared as (
    select * from shared_opt_out_addresses
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
        newest.country,
        coalesce(newest.email_opt_in_value, false) and not newest.has_email_opt_out
            as email_opt_in,
        coalesce(newest.sms_opt_in_value, false) and not newest.has_sms_opt_out
            as sms_opt_in,
        shared_email.address is not null as email_shared_opt_out,
        shared_phone.address is not null as phone_shared_opt_out,
        cast(newest.source_rows as integer) as source_rows
    from newest
    left join shared as shared_email
        on shared_email.address_kind = 'email' and newest.email_key = shared_email.address
    left join shared as shared_phone
        on shared_phone.address_kind = 'phone' and newest.phone_e164 = shared_phone.address
)

select * from final
