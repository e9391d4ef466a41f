-- contact_counts: the figures of one contacts load, for the run log.
-- Email and phone counts are over the resolved users (one address each);
-- unparsed_consent_values counts source values, both consent columns;
-- rows_without_user_id are source rows that name nobody (not loaded).
-- inputs: src_contacts, contact_rows, shared_opt_out_addresses, contacts.
-- params: $run_id
with resolved as (
    select * from contacts where run_id = $run_id
)

select
    (select count(*) from src_contacts) as rows_read,
    count(*) as users,
    count(*) filter (where email_status = 'valid') as valid_emails,
    count(*) filter (where email_status = 'invalid') as invalid_emails,
    count(*) filter (where phone_status = 'valid') as valid_phones,
    count(*) filter (where phone_status = 'invalid') as invalid_phones,
    (
        select coalesce(sum(is_email_opt_in_unparsed::integer + is_sms_opt_in_unparsed::integer), 0)
        from contact_rows
    ) as unparsed_consent_values,
    (select count(*) from shared_opt_out_addresses) as shared_opt_out_addresses,
    (select count(*) from src_contacts) - (select count(*) from contact_rows) as rows_without_user_id
from resolved
