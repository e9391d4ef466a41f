-- The survival stage's tables (retention.survival.build_survival), one set of
-- rows per run_id. Kept apart from schema.sql until the stage is wired in.

-- Kaplan-Meier curves per product: all users, and per acquisition month and
-- channel. Each row is the interval from the previous row's timeline_days to
-- this one: at_risk users entered it, churned of them churned in it, and
-- survival is the estimate at its end, with a 95% confidence band.
create table if not exists survival_curves (
    run_id bigint not null,
    product_id varchar not null,
    group_kind varchar not null,      -- all | acquisition_month | acquisition_channel
    group_value varchar not null,     -- 'all', '2024-05', 'paid_search', ...
    timeline_days double not null,
    survival double not null,
    ci_lower double,
    ci_upper double,
    at_risk bigint not null,
    churned bigint not null
);

-- Cox proportional hazards per product, fitted on standardised covariates:
-- hazard_ratio is the change in the churn hazard per one standard deviation
-- of the covariate (below 1: users with more of it churn later).
create table if not exists hazard_ratios (
    run_id bigint not null,
    product_id varchar not null,
    covariate varchar not null,
    coef double not null,
    hazard_ratio double not null,
    ci_lower double,
    ci_upper double,
    p_value double
);

-- One row per user of user_features. p_active_<h>d is the probability that a
-- censored user is still active h days after as_of given their tenure; NULL
-- when the user's churn is observed or the product has no Cox model.
create table if not exists user_survival (
    run_id bigint not null,
    product_id varchar not null,
    user_id varchar not null,
    duration_days double not null,
    is_churned boolean not null,
    p_active_30d double,
    p_active_90d double
);

create or replace view latest_survival_curves as
select survival_curves.*
from survival_curves
inner join published_run using (run_id);

create or replace view latest_hazard_ratios as
select hazard_ratios.*
from hazard_ratios
inner join published_run using (run_id);

create or replace view latest_user_survival as
select user_survival.*
from user_survival
inner join published_run using (run_id);
