-- playbook_inputs: what playbook filters can see: the user's tier, features
-- and scores. grain: one row per (product_id, user_id).
-- inputs: user_tiers, user_features, user_scores. params: $run_id
select
    features.*,
    scores.* exclude (run_id, product_id, user_id, frequency, recency, t, monetary_value),
    tiers.tier
from user_tiers as tiers
inner join user_features as features
    on tiers.product_id = features.product_id and tiers.user_id = features.user_id
inner join user_scores as scores
    on tiers.product_id = scores.product_id and tiers.user_id = scores.user_id
where tiers.run_id = $run_id and features.run_id = $run_id and scores.run_id = $run_id
