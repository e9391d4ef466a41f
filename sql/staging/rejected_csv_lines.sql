-- rejected_events from CSV lines that could not be split into the file's
-- columns (too many or too few fields, bad quoting). DuckDB keeps them in its
-- reject tables during the read; here they join the other rejected rows.
-- grain: one row per malformed line. inputs: src_csv_reject_errors,
-- src_csv_reject_scans. params: $run_id
select
    $run_id as run_id,
    'malformed_csv_line' as reason,
    cast(null as varchar) as user_id,
    cast(null as varchar) as event_time,
    cast(null as varchar) as event_type,
    cast(null as varchar) as amount,
    cast(null as varchar) as product_id,
    cast(null as varchar) as channel,
    cast(null as varchar) as event_id,
    scans.file_path as source_file,
    errors.line as source_line,
    errors.csv_line as source_text
from src_csv_reject_errors as errors
inner join src_csv_reject_scans as scans
    on errors.scan_id = scans.scan_id and errors.file_id = scans.file_id
