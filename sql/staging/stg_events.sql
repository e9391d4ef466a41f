-- stg_events: usable events up to and including as_of, one row per event.
-- Rows sharing an event_id are one event delivered more than once: only its
-- first copy (first_copies.sql) stays, the others are counted as duplicates.
-- A temp view of the run, not a copy: at tens of millions of rows copying the
-- usable rows costs more time and memory than the few passes the features
-- make over this view (each an anti join against a small key table).
-- grain: one row per (event_id) or per source row when event_id is absent.
-- inputs: usable_events (usable_events.sql), duplicate_keys, first_copies
-- (columns named, not `* exclude`, to stay in the portable subset)
select
    run_id, product_id, user_id, event_id, event_time, event_date, event_type,
    source_event_type, amount, channel
from usable_events
anti join duplicate_keys
    on usable_events.product_id = duplicate_keys.product_id
    and usable_events.event_id = duplicate_keys.event_id
union all
select
    run_id, product_id, user_id, event_id, event_time, event_date, event_type,
    source_event_type, amount, channel
from first_copies
