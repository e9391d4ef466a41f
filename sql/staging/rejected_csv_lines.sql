-- rejected_events from CSV lines that could not be split into the file's
-- columns (too many or too few fields, bad quoting). DuckDB keeps them in its
-- reject tables during the read; here they join the other rejected rows.
-- DuckDB records one error per missing column of a short line, so errors are
-- folded to one row per line (every source row is counted once), and the line
-- ending that DuckDB leaves on CRLF files is cut from source_text.
-- grain: one row per malformed line. inputs: src_csv_reject_errors,
-- src_csv_reject_scans. params: $run_id
with errors as (
    select * from src_csv_reject_errors
),

scans as (
    select * from src_csv_reject_scans
),

lines as (
    select
        scan_id,
        file_id,
        line,
        arg_min(csv_line, coalesce(column_idx, 0)) as csv_line
    from errors
    group by scan_id, file_id, line
),

final as (
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
        lines.line as source_line,
        regexp_replace(lines.csv_line, '^[\r\n]+|[\r\n]+$', '', 'g') as source_text
    from lines
    inner join scans
        on lines.scan_id = scans.scan_id and lines.file_id = scans.file_id
)

select * from final
