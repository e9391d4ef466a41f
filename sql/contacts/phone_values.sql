-- phone_values: each distinct (phone spelling, default region) once, for the
-- Python check (retention.contact_validation.check_phones).
-- inputs: contact_rows
select distinct phone_text, phone_region
from contact_rows
where phone_text is not null
