-- The warehouse tables written by `retention run`. Every table carries run_id;
-- `runs` says which run is published, and the latest_* views show only the
-- most recently published run, so a failed or killed run is never visible there.
create table if not exists runs (
    run_id bigint primary key,
    pipeline varchar not null,
    as_of date,
    started_at timestamp not null,
    finished_at timestamp,
    status varchar not null,          -- running | published | failed
    error varchar,
    rows_read bigint,
    rows_staged bigint,
    rows_rejected bigint,
    rows_duplicate bigint,
    rows_after_as_of bigint,
    users bigint,
    products bigint,
    retention_version varchar not null
);

create table if not exists run_stages (
    run_id bigint not null,
    stage varchar not null,
    started_at timestamp not null,
    seconds double not null,
    rows bigint
);

create table if not exists rejected_events (
    run_id bigint not null,
    reason varchar not null,
    user_id varchar,
    event_time varchar,
    event_type varchar,
    amount varchar,
    product_id varchar,
    channel varchar,
    event_id varchar,
    source_file varchar,
    source_line bigint,
    source_text varchar
);

create table if not exists stg_events (
    run_id bigint not null,
    product_id varchar not null,
    user_id varchar not null,
    event_id varchar,
    event_time timestamp not null,    -- UTC
    event_date date not null,         -- calendar day in the pipeline's timezone
    event_type varchar not null,      -- canonical: purchase, refund, visit, page_view, signup, other
    source_event_type varchar,
    amount double,
    channel varchar
);

create table if not exists user_features (
    run_id bigint not null,
    product_id varchar not null,
    user_id varchar not null,
    first_seen_at timestamp not null,
    last_seen_at timestamp not null,
    tenure_days integer not null,
    days_since_last_seen integer not null,
    events_total bigint not null,
    visits bigint not null,
    page_views bigint not null,
    signups bigint not null,
    purchases bigint not null,
    refunds bigint not null,
    other_events bigint not null,
    active_days bigint not null,
    active_days_7d bigint not null,
    active_days_30d bigint not null,
    active_days_90d bigint not null,
    sessions bigint not null,
    avg_session_seconds double not null,
    revenue_total double,
    revenue_30d double,
    refunded_total double,
    avg_order_value double,
    first_purchase_at timestamp,
    last_purchase_at timestamp,
    acquisition_channel varchar,
    distinct_channels bigint not null,
    events_per_active_day double not null,
    peak_events_per_minute bigint not null,
    frequency integer,
    recency double,
    "T" double,
    monetary_value double
);

create or replace view published_run as
select run_id, pipeline, as_of, finished_at
from runs
where status = 'published'
order by run_id desc
limit 1;

create or replace view latest_features as
select user_features.*
from user_features
inner join published_run using (run_id);

create or replace view latest_rejected_events as
select rejected_events.*
from rejected_events
inner join published_run using (run_id);
