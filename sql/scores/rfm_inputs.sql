-- rfm_inputs: what the RFM segment rules can see: the user's features and
-- RFM scores. grain: one row per (product_id, user_id).
-- inputs: user_features, rfm_scores (temp table of this run). params: $run_id
select
    features.*,
    rfm_scores.r_score,
    rfm_scores.f_score,
    rfm_scores.m_score,
    rfm_scores.fm_score
from user_features as features
inner join rfm_scores
    on features.product_id = rfm_scores.product_id and features.user_id = rfm_scores.user_id
where features.run_id = $run_id
