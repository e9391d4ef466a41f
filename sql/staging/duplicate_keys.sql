-- duplicate_keys: hashes of the (product_id, event_id) pairs that occur more
-- than once among the usable events (most logs have few). A hash shared by two
-- different pairs only sends both through the exact ranking of
-- first_copies.sql.
-- grain: one row per repeated event_key. inputs: usable_events
select event_key
from usable_events
where event_key is not null
group by event_key
having count(*) > 1
