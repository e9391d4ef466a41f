-- usable_events: the parsed rows a run can use, under stg_events' column
-- names, before duplicates are removed: no reject reason, on or before as_of.
-- A temp view (no parameters: as_of and run_id come from the one-row temp
-- table staging_settings), read by duplicate_keys.sql, repeated_copies.sql
-- and stg_events.sql.
-- An event is the pair (product_id, event_id): ids are unique per product, so
-- the same id in two products is two events (a row without a product_id is
-- rejected, so only a missing id leaves the pair incomplete). The dedup
-- models group and join on the pair itself, not on a hash of it (DuckDB's
-- hash is 64-bit and Spark's 32-bit); at 10M events the pair is as fast.
-- inputs: parsed_events, staging_settings (run_id, as_of)
select
    staging_settings.run_id,
    parsed_events.product_id,
    parsed_events.user_id,
    parsed_events.event_id,
    parsed_events.event_time_utc as event_time,
    parsed_events.event_date,
    parsed_events.canonical_event_type as event_type,
    parsed_events.event_type as source_event_type,
    parsed_events.amount_value as amount,
    parsed_events.channel
from parsed_events
cross join staging_settings
where parsed_events.reject_reason is null and parsed_events.event_date <= staging_settings.as_of
