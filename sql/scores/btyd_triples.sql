-- btyd_triples: the purchase model's input, compressed. Users with the same
-- (frequency, recency, T) are one row with a count, which gives the same fit
-- as one row per user and is what makes fitting a large base fast.
-- grain: one row per (product_id, frequency, recency, T). inputs: user_features.
-- params: $run_id
-- Sorted: the fit sums the rows in this order, so either engine gets the same fit.
select product_id, frequency, recency, "T", count(*) as users
from user_features
where run_id = $run_id and frequency is not null
group by product_id, frequency, recency, "T"
order by product_id, frequency, recency, "T"
