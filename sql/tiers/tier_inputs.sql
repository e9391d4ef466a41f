-- tier_inputs: what the tier rules can see: every feature and score column of
-- the user (scores win where both have a column of the same name), and the
-- product's rhythm (onboarding_days, recent_days, churn_after_days).
-- grain: one row per (product_id, user_id). inputs: user_features, user_scores,
-- product_rhythm. params: $run_id
select
    features.*,
    scores.* exclude (run_id, product_id, user_id, frequency, recency, t, monetary_value),
    coalesce(rhythm.onboarding_days, 14) as onboarding_days,
    coalesce(rhythm.recent_days, 30) as recent_days,
    coalesce(rhythm.churn_after_days, 90) as churn_after_days
from user_features as features
inner join user_scores as scores
    on features.product_id = scores.product_id and features.user_id = scores.user_id
left join product_rhythm as rhythm
    on rhythm.run_id = $run_id and features.product_id = rhythm.product_id
where features.run_id = $run_id and scores.run_id = $run_id
