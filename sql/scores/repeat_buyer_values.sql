-- repeat_buyer_values: Gamma-Gamma's input: repeat buyers' number of repeat
-- purchase days and mean repeat-day amount, compressed with counts. Users
-- whose mean is 0 or less (free orders, refunds booked as negative purchases)
-- are left out: Gamma-Gamma models positive spend only.
-- grain: one row per (product_id, frequency, monetary_value). inputs: user_features.
-- params: $run_id
-- Sorted: the fit sums the rows in this order, so either engine gets the same fit.
select product_id, frequency, monetary_value, count(*) as users
from user_features
where run_id = $run_id and frequency > 0 and monetary_value > 0
group by product_id, frequency, monetary_value
order by product_id, frequency, monetary_value
