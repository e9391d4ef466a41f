-- rejected_events: source rows that cannot be used, with the reason and the
-- original values as text, so nothing is dropped silently.
-- grain: one row per rejected source row. inputs: parsed_events. params: $run_id
select
    $run_id as run_id,
    reject_reason as reason,
    user_id,
    event_time,
    event_type,
    amount,
    product_id,
    channel,
    event_id,
    source_file,
    cast(null as bigint) as source_line,
    cast(null as varchar) as source_text
from parsed_events
where reject_reason is not null
