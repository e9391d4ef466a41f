-- duplicate_keys: the (product_id, event_id) pairs that occur more than once
-- among the usable events (most logs have few).
-- grain: one row per repeated (product_id, event_id). inputs: usable_events
select product_id, event_id
from usable_events
where event_id is not null
group by product_id, event_id
having count(*) > 1
