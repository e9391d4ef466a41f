-- latest_event_date: the last day with a usable event, the as_of of a
-- pipeline with as_of = "latest". inputs: parsed_events.
select max(event_date) as latest_event_date
from parsed_events
where reject_reason is null
