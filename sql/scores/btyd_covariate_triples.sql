-- btyd_covariate_triples: the input of a purchase model with covariates,
-- compressed like btyd_triples: users sharing (frequency, recency, T) and their
-- covariates are one row with a count.
-- grain: one row per (product_id, frequency, recency, T, acquisition_channel,
-- first_order_bucket). inputs: user_covariates (temp table of this run, from
-- scores/user_covariates.sql). params: none
-- Ordered so that both engines fit the rows in the same order (a likelihood
-- summed in another order moves the optimum by rounding).
select
    product_id,
    frequency,
    recency,
    "T",
    acquisition_channel,
    first_order_bucket,
    count(*) as users
from user_covariates
group by product_id, frequency, recency, "T", acquisition_channel, first_order_bucket
order by product_id, frequency, recency, "T", acquisition_channel, first_order_bucket nulls last
