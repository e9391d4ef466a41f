-- covariate_user_scores: the purchase-model scores of each user of a product
-- fitted with covariates, from the predictions of their (frequency, recency, T)
-- and covariate group; they replace that user's plain-model scores in
-- user_scores. CLV and its bounds use user_scores' expected spend per purchase.
-- grain: one row per (product_id, user_id) of such a product.
-- inputs: user_scores (this run), user_covariates, covariate_predictions (temp
-- tables of this run). params: $run_id, $as_of
with final as (
    select
        covariates.user_id,
        predictions.*,
        scores.expected_average_value * predictions.clv_factor as clv,
        scores.expected_average_value * predictions.clv_factor_lower_90 as clv_lower_90,
        scores.expected_average_value * predictions.clv_factor_upper_90 as clv_upper_90,
        $as_of::date + cast(round(predictions.days_to_next_purchase) as integer)
            as expected_next_purchase_at
    from user_covariates as covariates
    inner join covariate_predictions as predictions
        on covariates.product_id = predictions.product_id
        and covariates.frequency = predictions.frequency
        and covariates.recency = predictions.recency
        and covariates."T" = predictions."T"
        and covariates.acquisition_channel = predictions.acquisition_channel
        and covariates.first_order_bucket is not distinct from predictions.first_order_bucket
    inner join user_scores as scores
        on scores.run_id = $run_id
        and covariates.product_id = scores.product_id
        and covariates.user_id = scores.user_id
)

select * from final
