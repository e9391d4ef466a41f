-- contact_rows: one row per source contact row that names a user, in file
-- order, with values trimmed and consent parsed. A temp table of the run, read
-- by the value lists sent to Python and by the per-user resolution.
-- grain: one row per source row with a user_id.
-- inputs: src_contacts (file_index, file_row, then the contract columns user_id,
--         email, phone, country, email_opt_in, sms_opt_in as text; NULL when
--         the pipeline does not map a column)
-- Consent spellings are read case-insensitively after trimming. A missing
-- value is no consent; an unknown spelling is no consent too, and is counted
-- (is_email_opt_in_unparsed) so that a new spelling in an export gets noticed.
-- user_id is kept exactly as given, like stg_events, so that the two join.
with source as (
    select * from src_contacts
),

consent_spellings (spelling, is_opted_in) as (
    values
        ('true', true), ('yes', true), ('y', true), ('1', true), ('t', true), ('on', true),
        ('false', false), ('no', false), ('n', false), ('0', false), ('f', false), ('off', false)
),

trimmed as (
    select
        file_index,
        file_row,
        user_id,
        nullif(regexp_replace(email, '^\s+|\s+$', '', 'g'), '') as email_text,
        nullif(regexp_replace(phone, '^\s+|\s+$', '', 'g'), '') as phone_text,
        case when regexp_matches(phone, '\S') then phone end as phone_raw,
        nullif(upper(regexp_replace(country, '^\s+|\s+$', '', 'g')), '') as country,
        nullif(lower(regexp_replace(email_opt_in, '^\s+|\s+$', '', 'g')), '') as email_opt_in_text,
        nullif(lower(regexp_replace(sms_opt_in, '^\s+|\s+$', '', 'g')), '') as sms_opt_in_text
    from source
    where user_id is not null and regexp_matches(user_id, '\S')
),

final as (
    select
        trimmed.*,
        -- international spellings do not depend on the country: one check each
        case when trimmed.phone_text not like '+%' then trimmed.country end as phone_region,
        email_consent.is_opted_in as email_opt_in_value,
        sms_consent.is_opted_in as sms_opt_in_value,
        trimmed.email_opt_in_text is not null
            and email_consent.is_opted_in is null as is_email_opt_in_unparsed,
        trimmed.sms_opt_in_text is not null
            and sms_consent.is_opted_in is null as is_sms_opt_in_unparsed
    from trimmed
    left join consent_spellings as email_consent
        on trimmed.email_opt_in_text = email_consent.spelling
    left join consent_spellings as sms_consent
        on trimmed.sms_opt_in_text = sms_consent.spelling
)

select * from final
