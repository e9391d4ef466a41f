-- tier_inputs: what the tier rules can see: every feature and score column of
-- the user (scores win where both have a column of the same name).
-- grain: one row per (product_id, user_id). inputs: user_features, user_scores.
-- params: $run_id
select
    features.*,
    scores.* exclude (run_id, product_id, user_id, frequency, recency, t, monetary_value)
from user_features as features
inner join user_scores as scores
    on features.product_id = scores.product_id and features.user_id = scores.user_id
where features.run_id = $run_id and scores.run_id = $run_id
