-- stg_events: usable events up to and including as_of, one row per event.
-- Rows sharing an event_id are one event delivered more than once: the first
-- copy (by time, then content) is kept, the others are counted as duplicates.
-- Only ids that occur more than once go through the ranking window; they are
-- found by grouping 64-bit hashes of the ids (much cheaper than grouping the
-- strings), and a hash shared by two different ids only sends both through
-- the exact ranking, which partitions by the id itself. Rows without an id
-- have no key, so they are never matched as repeated.
-- usable is read three times rather than copied once: at tens of millions of
-- rows a copy costs more memory and time than the scans.
-- grain: one row per (event_id) or per source row when event_id is absent.
-- inputs: parsed_events (event_id and channel already cleaned). params: $run_id, $as_of
with usable as (
    select
        product_id,
        user_id,
        event_id,
        case when event_id is not null then hash(event_id) end as event_key,
        event_time_utc as event_time,
        event_date,
        canonical_event_type as event_type,
        event_type as source_event_type,
        amount_value as amount,
        channel
    from parsed_events
    where reject_reason is null and event_date <= $as_of::date
),

repeated_keys as (
    -- most logs have few repeated ids
    select event_key
    from usable
    where event_key is not null
    group by event_key
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
    semi join repeated_keys on usable.event_key = repeated_keys.event_key
),

final as (
    select product_id, user_id, event_id, event_time, event_date, event_type,
        source_event_type, amount, channel
    from usable
    anti join repeated_keys on usable.event_key = repeated_keys.event_key
    union all
    select product_id, user_id, event_id, event_time, event_date, event_type,
        source_event_type, amount, channel
    from ranked
    where copy_number = 1
)

select $run_id as run_id, * from final
