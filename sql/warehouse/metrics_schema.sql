-- The operating metrics of a run (retention/metrics.py): what an operator
-- watches daily, per product. Like every run table they carry run_id, and the
-- latest_* views show only the published run. Run after schema.sql, which
-- defines published_run. Definitions live in the header of each table's model
-- in sql/metrics/.
create table if not exists daily_metrics (
    run_id bigint not null,
    product_id varchar not null,
    day date not null,                -- calendar day in the pipeline's timezone (event_date)
    page_views bigint not null,       -- PV
    unique_users bigint not null,     -- UV: users with any event that day
    sessions bigint not null,         -- sessions that start that day
    avg_session_seconds double,       -- mean dwell of those sessions; NULL when none start
    buyers bigint not null,
    orders bigint not null,
    gmv double,                       -- NULL when the pipeline maps no amount column
    conversion_rate double,           -- buyers / unique_users
    average_order_value double,       -- gmv / orders; NULL without orders
    repeat_purchase_rate double       -- share of the day's buyers who bought on an earlier day
);

create table if not exists channel_metrics (
    run_id bigint not null,
    product_id varchar not null,
    acquisition_channel varchar not null,  -- 'unknown' for users whose events carry no channel
    users_acquired bigint not null,
    active_users bigint not null,     -- tier 'active' in this run
    core_users bigint not null,       -- tier 'core' in this run
    share_active double,
    share_core double,
    revenue_total double,
    revenue_30d double,
    spend double,                     -- NULL when no cost is given for the channel
    cost_per_user double,
    roi double                        -- (revenue_total - spend) / spend
);

create table if not exists cohort_retention (
    run_id bigint not null,
    product_id varchar not null,
    cohort_month varchar not null,    -- 'YYYY-MM' of the user's first event
    cohort_users bigint not null,
    day_n integer not null,           -- 1, 7, 14, 30, 60, 90, 180, 365
    eligible_users bigint not null,   -- users whose day N is on or before as_of
    retained_on_day bigint not null,
    retained_on_or_after bigint not null,
    retention_on_day double,          -- over eligible users; NULL when none is eligible
    retention_unbounded double
);

create or replace view latest_daily_metrics as
select daily_metrics.*
from daily_metrics
inner join published_run using (run_id);

create or replace view latest_channel_metrics as
select channel_metrics.*
from channel_metrics
inner join published_run using (run_id);

create or replace view latest_cohort_retention as
select cohort_retention.*
from cohort_retention
inner join published_run using (run_id);
