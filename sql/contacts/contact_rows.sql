-- contact_rows: every source contact row, in file order, with values trimmed
-- and consent read. A temp table of the contacts stage.
-- grain: one row per source row; a malformed line gives one row per field
-- and per region (is_malformed: each field may be the user id, the email or
-- the phone, so each is tried as all three, a national phone number in every
-- country the file uses). Such rows grant nothing and suppress whatever they
-- name. Rows without a user_id are kept: they name addresses, and a row that
-- does not grant consent withdraws it for the address, whoever has it.
-- inputs: src_contacts (file_index, file_row, is_malformed, then user_id,
--         email, phone, country, email_opt_in, sms_opt_in as text)
-- Consent: only an explicit yes grants (true, yes, y, 1, t, on; any case,
-- after trimming every Unicode space). Anything else, a missing value too,
-- does not; a value that is neither yes nor no is counted as unparsed so that
-- a new spelling in an export gets noticed. user_id is kept exactly as given.
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
        is_malformed,
        case
            when regexp_matches(user_id, '[^\s\p{Z}\x{200B}\x{FEFF}]') then user_id
        end as user_id,
        nullif(regexp_replace(email, '^[\s\p{Z}\x{FEFF}]+|[\s\p{Z}\x{FEFF}]+$', '', 'g'), '')
            as email_text,
        nullif(regexp_replace(phone, '^[\s\p{Z}\x{FEFF}]+|[\s\p{Z}\x{FEFF}]+$', '', 'g'), '')
            as phone_text,
        case when regexp_matches(phone, '[^\s\p{Z}\x{FEFF}]') then phone end as phone_raw,
        nullif(
            upper(regexp_replace(country, '^[\s\p{Z}\x{FEFF}]+|[\s\p{Z}\x{FEFF}]+$', '', 'g')), ''
        ) as country,
        nullif(
            lower(regexp_replace(
                email_opt_in, '^[\s\p{Z}\x{200B}\x{FEFF}]+|[\s\p{Z}\x{200B}\x{FEFF}]+$', '', 'g'
            )),
            ''
        ) as email_opt_in_text,
        nullif(
            lower(regexp_replace(
                sms_opt_in, '^[\s\p{Z}\x{200B}\x{FEFF}]+|[\s\p{Z}\x{200B}\x{FEFF}]+$', '', 'g'
            )),
            ''
        ) as sms_opt_in_text
    from source
),

file_regions as (
    select distinct country as region from trimmed where not is_malformed and country is not null
    union all
    select null as region
),

regions as (
    select
        trimmed.file_index,
        trimmed.file_row,
        trimmed.is_malformed,
        trimmed.user_id,
        trimmed.email_text,
        trimmed.phone_text,
        trimmed.phone_raw,
        trimmed.country,
        trimmed.email_opt_in_text,
        trimmed.sms_opt_in_text,
        -- international spellings do not depend on the country: one check each
        case when trimmed.phone_text not like '+%' then trimmed.country end as phone_region
    from trimmed
    where not trimmed.is_malformed
    union all
    select
        trimmed.file_index,
        trimmed.file_row,
        trimmed.is_malformed,
        trimmed.user_id,
        trimmed.email_text,
        trimmed.phone_text,
        trimmed.phone_raw,
        trimmed.country,
        trimmed.email_opt_in_text,
        trimmed.sms_opt_in_text,
        file_regions.region as phone_region
    from trimmed
    cross join file_regions
    where trimmed.is_malformed
),

final as (
    select
        regions.*,
        coalesce(email_consent.is_opted_in, false) and not regions.is_malformed
            as email_grants,
        coalesce(sms_consent.is_opted_in, false) and not regions.is_malformed as sms_grants,
        regions.email_opt_in_text is not null
            and email_consent.is_opted_in is null as is_email_opt_in_unparsed,
        regions.sms_opt_in_text is not null
            and sms_consent.is_opted_in is null as is_sms_opt_in_unparsed
    from regions
    left join consent_spellings as email_consent
        on regions.email_opt_in_text = email_consent.spelling
    left join consent_spellings as sms_consent
        on regions.sms_opt_in_text = sms_consent.spelling
)

select * from final
