-- reject_format_matches: how many of the sample event times of rejected rows a
-- candidate strptime format reads; the reject gate suggests the format that
-- reads the most of them as [source.events] event_time_format.
-- grain: one row. inputs: none. params: values (list of text), format (strptime)
select count(*) filter (where try_strptime(trim(value), $format) is not null) as matched
from (select unnest($values::varchar[]) as value)
