-- stg_events: usable events up to and including as_of, one row per event.
-- Rows sharing an event_id are one event delivered more than once: the first
-- copy (by time, then content) is kept, the others are counted as duplicates.
-- Only ids that occur more than once go through the ranking window.
-- grain: one row per (event_id) or per source row when event_id is absent.
-- inputs: parsed_events, the macro strip_blank (macros.sql). params: $run_id, $as_of
with usable as (
    select
        product_id,
        user_id,
        strip_blank(event_id) as event_id,
        event_time_utc as event_time,
        event_date,
        canonical_event_type as event_type,
        event_type as source_event_type,
        amount_value as amount,
        strip_blank(channel) as channel
    from parsed_events
    where reject_reason is null and event_date <= $as_of::date
),

repeated_ids as (
    -- only ids seen more than once need ranking; most logs have few of them
    select event_id
    from usable
    where event_id is not null
    group by event_id
    having count(*) > 1
),

ranked as (
    select
        usable.*,
        row_number() over (
            partition by usable.event_id
            order by
                usable.event_time, usable.product_id, usable.user_id,
                usable.source_event_type, usable.amount, usable.channel
        ) as copy_number
    from usable
    inner join repeated_ids on usable.event_id = repeated_ids.event_id
),

final as (
    select product_id, user_id, event_id, event_time, event_date, event_type,
        source_event_type, amount, channel
    from usable
    where event_id is null
        or event_id not in (select event_id from repeated_ids)
    union all
    select product_id, user_id, event_id, event_time, event_date, event_type,
        source_event_type, amount, channel
    from ranked
    where copy_number = 1
)

select $run_id as run_id, * from final
