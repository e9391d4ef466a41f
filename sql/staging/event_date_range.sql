-- event_date_range: the first and last calendar day of the usable events: the
-- last is the as_of of a pipeline with as_of = "latest", and both warn when
-- as_of lies before all the data or long after it.
-- grain: one row. inputs: parsed_events
select min(event_date) as first_event_date, max(event_date) as last_event_date
from parsed_events
where reject_reason is null
