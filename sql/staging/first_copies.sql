-- first_copies: of the events delivered more than once (sharing a product_id
-- and event_id), the copy that is kept: the first by time, then content.
-- grain: one row per repeated (product_id, event_id). inputs: repeated_copies
select
    run_id,
    product_id,
    user_id,
    event_id,
    event_time,
    event_date,
    event_type,
    source_event_type,
    amount,
    channel
from repeated_copies
where copy_number = 1
