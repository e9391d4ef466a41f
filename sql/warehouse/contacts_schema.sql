-- The contacts stage's table (retention.contacts.load_contacts), one set of
-- rows per run_id: one resolved contact per user. Kept apart from schema.sql
-- until the stage is wired in.
-- email is the normalized address (domain lower-cased, local part as typed);
-- email_key is the whole address lower-cased, for de-duplication. phone_raw is
-- the value as given, phone_e164 the parsed number. email_opt_in / sms_opt_in
-- are the user's own consent; *_shared_opt_out says that another user with the
-- same address opted out, which suppresses the address for this user too.
create table if not exists contacts (
    run_id bigint not null,
    user_id varchar not null,
    email varchar,
    email_key varchar,
    email_status varchar not null,    -- valid | invalid | missing
    email_problem varchar,            -- why an address is invalid
    phone_raw varchar,
    phone_e164 varchar,
    phone_status varchar not null,    -- valid | invalid | missing
    country varchar,                  -- ISO code, upper-cased
    email_opt_in boolean not null,
    sms_opt_in boolean not null,
    email_shared_opt_out boolean not null,
    phone_shared_opt_out boolean not null,
    source_rows integer not null
);
