-- spark_rejected_rows: the rejected rows of a run staged on Spark
-- (parsed_events.spark.sql), shaped like parsed_events' rejected rows for
-- rejected_events.sql: the typed time and amount become text here, the way
-- DuckDB's staging writes them, so rejected_events reads the same on both
-- engines (Spark writes 1e20 as 1.0E20). Kept as the temp table
-- parsed_events until the features are built, like the DuckDB engine's.
-- grain: one row per rejected source row.
-- inputs: rejected_rows (the Spark rows, read from the lake), source_files
--         (uri: Spark's name of each file, source_file: the DuckDB engine's)
select
    rejected_rows.product_id,
    rejected_rows.user_id,
    rejected_rows.event_type,
    rejected_rows.reject_reason,
    cast(rejected_rows.rejected_event_time_typed as varchar) as rejected_event_time,
    cast(rejected_rows.rejected_amount_typed as varchar) as rejected_amount,
    rejected_rows.rejected_event_id,
    rejected_rows.rejected_channel,
    source_files.source_file as rejected_source_file
from rejected_rows
left join source_files on rejected_rows.rejected_source_uri = source_files.uri
