-- Columns added to the per-user tables since they were first released, for a
-- warehouse an older version created. Only a DuckDB warehouse stores these
-- tables: in a Spark warehouse they are views over the lake, which
-- warehouse/lake_views.py builds with every column of the contract.
alter table user_features add column if not exists first_order_value double;
alter table user_scores add column if not exists expected_purchases_30d_lower_90 double;
alter table user_scores add column if not exists expected_purchases_30d_upper_90 double;
alter table user_scores add column if not exists p_no_purchase_30d double;
alter table user_scores add column if not exists p_one_purchase_30d double;
alter table user_scores add column if not exists p_2plus_purchases_30d double;
alter table user_scores add column if not exists p_alive_in_30d double;
alter table user_scores add column if not exists expected_purchases_90d_lower_90 double;
alter table user_scores add column if not exists expected_purchases_90d_upper_90 double;
alter table user_scores add column if not exists p_no_purchase_90d double;
alter table user_scores add column if not exists p_one_purchase_90d double;
alter table user_scores add column if not exists p_2plus_purchases_90d double;
alter table user_scores add column if not exists p_alive_in_90d double;
alter table user_scores add column if not exists expected_purchases_365d_lower_90 double;
alter table user_scores add column if not exists expected_purchases_365d_upper_90 double;
alter table user_scores add column if not exists p_no_purchase_365d double;
alter table user_scores add column if not exists p_one_purchase_365d double;
alter table user_scores add column if not exists p_2plus_purchases_365d double;
alter table user_scores add column if not exists p_alive_in_365d double;
alter table user_scores add column if not exists clv_lower_90 double;
alter table user_scores add column if not exists clv_upper_90 double;
alter table user_scores add column if not exists expected_next_purchase_at date;
