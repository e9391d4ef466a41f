-- checked_contact_rows: contact_rows with the verdicts of the Python checks
-- joined back on the value: the normalized email and its key, the E.164 phone
-- and its line type, and a status per channel (valid | invalid | missing).
-- grain: one row per contact_rows row.
-- inputs: contact_rows, email_checks (email_text, email, email_key,
--         email_problem), phone_checks (phone_text, phone_region, phone_e164,
--         phone_type)
with contact as (
    select * from contact_rows
),

email_check as (
    select * from email_checks
),

phone_check as (
    select * from phone_checks
),

final as (
    select
        contact.*,
        email_check.email,
        email_check.email_key,
        email_check.email_problem,
        case
            when contact.email_text is null then 'missing'
            when email_check.email is null then 'invalid'
            else 'valid'
        end as email_status,
        phone_check.phone_e164,
        phone_check.phone_type,
        case
            when contact.phone_text is null then 'missing'
            when phone_check.phone_e164 is null then 'invalid'
            else 'valid'
        end as phone_status
    from contact
    left join email_check
        on contact.email_text = email_check.email_text
    left join phone_check
        on contact.phone_text = phone_check.phone_text
        and coalesce(contact.phone_region, '') = coalesce(phone_check.phone_region, '')
)

select * from final
