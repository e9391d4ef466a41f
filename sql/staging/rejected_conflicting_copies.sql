-- rejected_conflicting_copies: later copies of a (product_id, event_id) that
-- differ from the kept first copy, for rejected_events (reason
-- conflicting_duplicate), values as text.
-- grain: one row per conflicting copy. inputs: repeated_copies. params: $run_id
select
    $run_id as run_id,
    'conflicting_duplicate' as reason,
    user_id,
    cast(event_time as varchar) as event_time,
    source_event_type as event_type,
    cast(amount as varchar) as amount,
    product_id,
    channel,
    event_id,
    cast(null as varchar) as source_file,
    cast(null as bigint) as source_line,
    cast(null as varchar) as source_text
from repeated_copies
where is_conflicting
