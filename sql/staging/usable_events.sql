-- usable_events: the parsed rows a run can use, under stg_events' column
-- names, before duplicates are removed: no reject reason, on or before as_of.
-- A temp view (no parameters: as_of and run_id come from the one-row temp
-- table staging_settings), read by duplicate_copies.sql and stg_events.sql.
-- event_key is a 64-bit hash of (product_id, event_id) (NULL without an id),
-- cheaper to group and join than the pair itself: ids are unique per product,
-- so the same id in two products is two events.
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
    parsed_events.channel,
    case
        when parsed_events.event_id is not null
            then hash(parsed_events.product_id, parsed_events.event_id)
    end as event_key
from parsed_events
cross join staging_settings
where parsed_events.reject_reason is null and parsed_events.event_date <= staging_settings.as_of
