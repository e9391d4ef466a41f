"""user_features -> user_scores and model_params (sql/scores/, sql/survival/)."""
