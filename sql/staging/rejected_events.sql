-- rejected_events: source rows that cannot be used, with the reason and the
-- original values as text, so nothing is dropped silently (a column the source
-- already typed, e.g. a Parquet timestamp, is shown as its typed value).
-- grain: one row per rejected source row. inputs: parsed_events. params: $run_id
select
    $run_id as run_id,
    reject_reason as reason,
    user_id,
    coalesce(event_time, cast(event_time_typed as varchar)) as event_time,
    event_type,
    coalesce(amount, cast(amount_typed as varchar)) as amount,
    product_id,
    channel,
    event_id,
    source_file,
    cast(null as bigint) as source_line,
    cast(null as varchar) as source_text
from parsed_events
where reject_reason is not null
