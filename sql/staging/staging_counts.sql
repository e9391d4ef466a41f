-- staging_counts: how the source rows split before staging, for the run log.
-- rows_read = rows_rejected + rows_after_as_of + duplicates + rows_staged.
-- inputs: parsed_events. params: $as_of
select
    count(*) as rows_read,
    count(reject_reason) as rows_rejected,
    count(*) filter (where reject_reason is null and event_date > $as_of::date) as rows_after_as_of
from parsed_events
