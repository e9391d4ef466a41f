-- first_copies: of the events delivered more than once (sharing an event_id),
-- the copy that is kept: the first by time, then content. The ranking
-- partitions by the id itself, so a hash collision in duplicate_keys costs
-- nothing but a few more ranked rows.
-- grain: one row per repeated event_id. inputs: usable_events, duplicate_keys
with ranked as (
    select
        usable_events.*,
        row_number() over (
            partition by usable_events.event_id
            order by
                usable_events.event_time, usable_events.product_id, usable_events.user_id,
                usable_events.source_event_type, usable_events.amount, usable_events.channel
        ) as copy_number
    from usable_events
    semi join duplicate_keys on usable_events.event_key = duplicate_keys.event_key
)

select * exclude (copy_number) from ranked where copy_number = 1
