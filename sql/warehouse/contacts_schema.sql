-- The contacts stage's tables (retention.stages.contacts), one set of rows per
-- run_id: one resolved contact per user, the addresses the run must not
-- contact, and the contacts lines that could not be read.
-- email is the normalized address (domain lower-cased, local part as typed);
-- email_key is the whole address lower-cased, for matching. phone_raw is the
-- value as given, phone_e164 the parsed number and phone_type its line type.
-- email_opt_in / sms_opt_in are the user's own consent; *_shared_opt_out says
-- that a row of someone else names the same address without a yes, which
-- suppresses the address for this user too.
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
alter table contacts add column if not exists phone_type varchar;
alter table contacts add column if not exists has_malformed_row boolean default false;

create table if not exists contact_suppressions (
    run_id bigint not null,
    channel varchar not null,         -- email | sms | call
    address_kind varchar not null,    -- email | phone
    address varchar not null,         -- email_key or E.164 phone
    reason varchar not null,          -- suppressed_list | malformed_contact_row | no_consent
    detail varchar
);

create table if not exists contact_rejects (
    run_id bigint not null,
    source_file varchar,
    source_line bigint,
    reason varchar not null,
    detail varchar,
    source_text varchar
);
