-- contact_counts: the figures of one contacts load, for the run log.
-- Email and phone counts are over the resolved users (one address each);
-- unparsed_consent_values counts source values, both consent columns;
-- rows_without_user_id are well-formed rows that name nobody (their addresses
-- still count for consent); malformed_rows are lines that could not be read
-- (their addresses are suppressed on every channel).
-- inputs: src_contacts, contact_rows, address_consent, suppression_list,
-- contacts. params: $run_id
with resolved as (
    select * from contacts where run_id = $run_id
),

lines as (
    select distinct file_index, file_row, is_malformed from src_contacts
)

select
    (select count(*) from lines) as rows_read,
    (select count(*) from lines where is_malformed) as malformed_rows,
    (
        select count(*) from contact_rows where user_id is null and not is_malformed
    ) as rows_without_user_id,
    count(*) as users,
    count(*) filter (where email_status = 'valid') as valid_emails,
    count(*) filter (where email_status = 'invalid') as invalid_emails,
    count(*) filter (where phone_status = 'valid') as valid_phones,
    count(*) filter (where phone_status = 'invalid') as invalid_phones,
    count(*) filter (
        where phone_type in ('FIXED_LINE', 'PAGER', 'VOICEMAIL', 'UAN', 'PREMIUM_RATE')
    ) as not_mobile_phones,
    (
        select coalesce(sum(is_email_opt_in_unparsed::integer + is_sms_opt_in_unparsed::integer), 0)
        from contact_rows
        where not is_malformed
    ) as unparsed_consent_values,
    (
        select count(*) from address_consent
        where withdrawing_rows > 0 and (users >= 2 or withdrawing_anonymous_rows > 0)
    ) as shared_opt_out_addresses,
    (select count(distinct (address_kind, address)) from suppression_list) as suppressed_list_addresses
from resolved
