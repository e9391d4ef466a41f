-- repeated_copies: every copy of the events delivered more than once (sharing
-- a product_id and event_id), ranked: copy 1 is the first by time, then
-- content, and is the one kept. A later copy that differs from copy 1 in user,
-- time, type, amount or channel is not the same event delivered twice: it is
-- marked is_conflicting and goes to rejected_events as conflicting_duplicate
-- instead of being dropped as a duplicate.
-- grain: one row per copy of a repeated (product_id, event_id).
-- inputs: usable_events, duplicate_keys
with repeated as (
    select usable_events.*
    from usable_events
    semi join duplicate_keys
        on usable_events.product_id = duplicate_keys.product_id
        and usable_events.event_id = duplicate_keys.event_id
),

ranked as (
    select
        repeated.*,
        row_number() over (
            partition by product_id, event_id
            order by event_time, user_id, source_event_type, amount, channel
        ) as copy_number
    from repeated
),

compared as (
    select
        ranked.*,
        first_value(user_id) over copies as first_user_id,
        first_value(event_time) over copies as first_event_time,
        first_value(source_event_type) over copies as first_source_event_type,
        first_value(amount) over copies as first_amount,
        first_value(channel) over copies as first_channel
    from ranked
    window copies as (
        partition by product_id, event_id
        order by copy_number
        rows between unbounded preceding and unbounded following
    )
)

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
    channel,
    copy_number,
    copy_number > 1 and (
        user_id is distinct from first_user_id
        or event_time is distinct from first_event_time
        or source_event_type is distinct from first_source_event_type
        or amount is distinct from first_amount
        or channel is distinct from first_channel
    ) as is_conflicting
from compared
