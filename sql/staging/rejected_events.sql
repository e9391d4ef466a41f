-- rejected_events: source rows that cannot be used, with the reason and the
-- original values as text, so nothing is dropped silently (a column the source
-- already typed, e.g. a Parquet timestamp, is shown as its typed value).
-- grain: one row per rejected source row. inputs: parsed_events. params: $run_id
select
    $run_id as run_id,
    reject_reason as reason,
    user_id,
    rejected_event_time as event_time,
    event_type,
    rejected_amount as amount,
    product_id,
    rejected_channel as channel,
    rejected_event_id as event_id,
    rejected_source_file as source_file,
    cast(null as bigint) as source_line,
    cast(null as varchar) as source_text
from parsed_events
where reject_reason is not null
