-- email_values: each distinct email spelling once, for the Python check
-- (retention.contact_validation.check_emails). inputs: contact_rows
select distinct email_text
from contact_rows
where email_text is not null
