-- The warehouse tables written by `retention run`. Every table carries run_id;
-- `runs` says which runs are published, and the latest_* views show only the
-- published run with the newest as_of (of that day's runs, the last to finish),
-- so a failed or killed run is never visible there and a backfill of an older
-- day is stored beside the latest run without replacing it.
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

create table if not exists run_steps (
    run_id bigint not null,
    stage varchar not null,
    step varchar not null,
    seconds double not null,
    calls bigint not null
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
    days_since_last_purchase integer,
    acquisition_channel varchar,
    distinct_channels bigint not null,
    events_per_active_day double not null,
    peak_events_per_minute bigint not null,
    frequency integer,
    recency double,
    "T" double,
    monetary_value double,
    first_order_value double
);

create table if not exists user_scores (
    run_id bigint not null,
    product_id varchar not null,
    user_id varchar not null,
    r_score integer,                  -- 1-5, 5 = most recent buyers; NULL without a purchase
    f_score integer,
    m_score integer,                  -- NULL without a purchase or without amounts
    fm_score integer,
    rfm_segment varchar not null,
    frequency integer,
    recency double,
    t double,
    monetary_value double,
    p_alive double,
    expected_purchases_30d double,
    expected_purchases_90d double,
    expected_purchases_365d double,
    expected_average_value double,
    clv double,
    p_alive_activity double,
    expected_active_days_30d double,
    p_active_30d double,
    p_active_90d double
,
    expected_purchases_30d_lower_90 double,
    expected_purchases_30d_upper_90 double,
    p_no_purchase_30d double,
    p_one_purchase_30d double,
    p_2plus_purchases_30d double,
    p_alive_in_30d double,
    expected_purchases_90d_lower_90 double,
    expected_purchases_90d_upper_90 double,
    p_no_purchase_90d double,
    p_one_purchase_90d double,
    p_2plus_purchases_90d double,
    p_alive_in_90d double,
    expected_purchases_365d_lower_90 double,
    expected_purchases_365d_upper_90 double,
    p_no_purchase_365d double,
    p_one_purchase_365d double,
    p_2plus_purchases_365d double,
    p_alive_in_365d double,
    clv_lower_90 double,
    clv_upper_90 double,
    expected_next_purchase_at date
);

-- warehouses made before some per-user columns existed get them on open, from
-- per_user_columns.sql (a DuckDB warehouse only)

create table if not exists model_params (
    run_id bigint not null,
    product_id varchar not null,
    model varchar not null,           -- bgnbd, mbgnbd, pareto_nbd, gamma_gamma, activity_<model>, cox, ...
    param varchar not null,           -- r, alpha, a, b, ..., log_likelihood, converged, n_users, fallback
    value double,
    note varchar,
    stderr double,                    -- parameters only: from the inverse Hessian at the optimum
    lower_95 double,                  -- value - 1.96 stderr (Wald, as lifetimes reports it)
    upper_95 double
);

alter table model_params add column if not exists stderr double;
alter table model_params add column if not exists lower_95 double;
alter table model_params add column if not exists upper_95 double;

create table if not exists user_tiers (
    run_id bigint not null,
    product_id varchar not null,
    user_id varchar not null,
    tier varchar not null,            -- junk, new, valid, active, core, at_risk, churned
    reason varchar not null           -- the rule that matched and the values it saw
);

create table if not exists evaluations (
    evaluation_id bigint not null,    -- one per `retention evaluate`
    created_at timestamp not null,
    pipeline varchar not null,
    as_of date not null,              -- scores computed with data up to this day
    horizon_days integer not null,    -- outcomes measured over the next horizon_days
    product_id varchar not null,
    section varchar not null,         -- tier | frequency_bucket | purchase_model
    label varchar not null,           -- the tier, the bucket (0..6, 7+), or "all"
    metric varchar not null,          -- users, share_active, revenue_per_user, auc_p_alive, ...
    value double
);

create table if not exists playbook_assignments (
    run_id bigint not null,
    product_id varchar not null,
    user_id varchar not null,
    tier varchar not null,
    playbook varchar,                 -- NULL for junk users and users no playbook serves
    channel varchar,                  -- email | sms | call; holdout users keep the one they would get
    holdout boolean not null,
    suppressed_reason varchar         -- NULL = exported; else junk, no_playbook, holdout, no_contact,
                                      -- invalid_email, invalid_phone, no_email_consent,
                                      -- no_sms_consent, frequency_cap
);

create table if not exists sends (
    run_id bigint not null,
    product_id varchar not null,
    user_id varchar not null,
    playbook varchar not null,
    channel varchar not null,
    sent_on date not null,            -- the run's as_of: the day the contact counts for
    exported_at timestamp not null,
    file varchar not null             -- export folder of the run, inside the exports folder
);

create table if not exists uplift_results (
    run_id bigint not null,           -- the run whose campaigns are measured
    measured_at timestamp not null,
    horizon_days integer not null,
    playbook varchar not null,
    metric varchar not null,          -- active (share), purchases, revenue (per user)
    sent_users bigint,
    holdout_users bigint,
    sent_value double,
    holdout_value double,
    difference double,                -- sent - holdout
    ci_lower double,                  -- 95% interval of the difference
    ci_upper double,
    relative_lift double,             -- difference / holdout value
    product_id varchar                -- NULL: every product of the playbook pooled
);
alter table uplift_results add column if not exists product_id varchar;  -- older warehouses

-- One row per as_of day with a published run: the run that stands for the day
-- (the last of its runs to finish: a rerun of a day replaces it) and the day's
-- rank, 1 for the newest as_of. A backfill of an older day ranks below the
-- latest day however late it finished.
create or replace view run_days as
with day_runs as (
    select
        run_id,
        as_of,
        finished_at,
        row_number() over (partition by as_of order by finished_at desc, run_id desc) as newest
    from runs
    where status = 'published' and as_of is not null
)

select
    as_of,
    run_id,
    finished_at,
    row_number() over (order by as_of desc) as day_rank
from day_runs
where newest = 1;

create or replace view published_run as
select runs.run_id, runs.pipeline, runs.as_of, runs.finished_at
from run_days
inner join runs using (run_id)
where run_days.day_rank = 1;

create or replace view latest_features as
select user_features.*
from user_features
inner join published_run using (run_id);

create or replace view latest_rejected_events as
select rejected_events.*
from rejected_events
inner join published_run using (run_id);

create or replace view latest_scores as
select user_scores.*
from user_scores
inner join published_run using (run_id);

create or replace view latest_tiers as
select user_tiers.*
from user_tiers
inner join published_run using (run_id);

create or replace view tier_summary as
select
    tiers.product_id,
    tiers.tier,
    count(*) as users,
    count(*) / sum(count(*)) over (partition by tiers.product_id) as share,
    avg(scores.clv) as avg_clv,
    sum(features.revenue_30d) as revenue_30d
from latest_tiers as tiers
inner join latest_scores as scores using (product_id, user_id)
inner join latest_features as features using (product_id, user_id)
group by tiers.product_id, tiers.tier;

create or replace view tier_transitions as
with latest as (
    select user_tiers.* from user_tiers
    inner join run_days on user_tiers.run_id = run_days.run_id and run_days.day_rank = 1
),

previous as (
    select user_tiers.* from user_tiers
    inner join run_days on user_tiers.run_id = run_days.run_id and run_days.day_rank = 2
)

select
    coalesce(latest.product_id, previous.product_id) as product_id,
    coalesce(previous.tier, '(none)') as from_tier,
    coalesce(latest.tier, '(gone)') as to_tier,
    count(*) as users
from latest
full outer join previous
    on latest.product_id = previous.product_id and latest.user_id = previous.user_id
group by all;

create or replace view latest_assignments as
select playbook_assignments.*
from playbook_assignments
inner join published_run using (run_id);

create or replace view tier_history as
select user_tiers.run_id, runs.as_of, user_tiers.product_id, user_tiers.user_id, user_tiers.tier
from user_tiers
inner join runs on user_tiers.run_id = runs.run_id
where runs.status = 'published';

-- Which warehouse this is, whatever its file is called or wherever it is
-- copied: export folders record it, so a run never replaces files another
-- warehouse wrote.
create table if not exists warehouse_info (
    warehouse_id varchar not null,
    created_at timestamp not null
);
insert into warehouse_info
select cast(uuid() as varchar), cast(now() as timestamp)
where not exists (select 1 from warehouse_info);

-- Each product's rhythm per run (sql/features/product_rhythm.sql): the windows the
-- default tier policy uses, derived from the product's own data.
create table if not exists product_rhythm (
    run_id bigint not null,
    product_id varchar not null,
    returning_users bigint,
    gaps bigint,
    gap_p50_days double,
    gap_p75_days double,
    gap_p95_days double,
    onboarding_days integer not null,
    recent_days integer not null,
    churn_after_days integer not null,
    method varchar not null
);

-- The Parquet files behind the per-user tables of a warehouse that the Spark
-- engine writes ([run] engine = "spark"): there user_features, user_scores,
-- user_survival, user_tiers and playbook_assignments are views over these
-- files in the lake (retention/warehouse/lake_views.py). Empty on the DuckDB
-- engine, whose per-user tables hold their rows.
create table if not exists lake_files (
    run_id bigint not null,
    table_name varchar not null,
    path varchar not null,
    retired_by bigint
);
