-- cox_sample: the users each product's Cox model is fitted on, in user_id
-- order: those whose first week lies wholly before as_of (baseline_days = 7),
-- at the positions models.cox.sample_positions drew among them. The Spark
-- engine runs it, so only the sample (at most [scores] max_fit_users per
-- product) reaches the driver, the same users fit_sample takes on DuckDB.
-- grain: one row per (product_id, user_id) drawn.
-- inputs: user_lifetimes (survival/user_lifetimes.sql), cox_positions
-- (product_id, position: 0-based, in user_id order).
with eligible as (
    select
        *,
        row_number() over (partition by product_id order by user_id) - 1 as position
    from user_lifetimes
    where baseline_days = 7
)

select eligible.*
from eligible
inner join cox_positions
    on eligible.product_id = cox_positions.product_id
    and eligible.position = cox_positions.position
order by eligible.product_id, eligible.position
