-- parsed_events on Spark: parsed_events.sql for a source whose times, and
-- amounts if mapped, are already typed (Parquet timestamps and numbers), the
-- one kind of source that stages on Spark (README, "Past one machine"). Same
-- reasons, same order, same values; what differs, and why:
-- * nothing is parsed from text, so there is no unparseable_event_time or
--   unparseable_amount (a text time or amount stages on DuckDB instead);
-- * strip_blank is written out per column (Spark has no macros): the fast
--   path for a value that starts and ends with a printable ASCII character
--   (ascii() is the first character's code point, like DuckDB's unicode()),
--   else the pattern :blank_pattern, staging.BLANK_PATTERN, whose Java
--   classes \s and \v cover together what RE2's do (checked over every code
--   point up to U+3100 by tests/engines/test_spark_staging.py);
-- * the rejected rows keep their time and amount typed and their file as
--   Spark's URI (rejected_event_time_typed, rejected_amount_typed,
--   rejected_source_uri): DuckDB writes them as text and names the file as
--   on the DuckDB engine (staging/spark_rejected_rows.sql).
-- inputs: src_events (contract names; event_time_typed, amount_typed and
--         source_uri), event_type_map (source_value, event_type)
-- params: :blank_pattern, :min_event_time, :max_event_time (dates),
--         :amount_mapped, :timezone
with source as (
    select * from src_events
),

stripped as (
    select
        source.*,
        case
            when ascii(user_id) between 33 and 126 and ascii(right(user_id, 1)) between 33 and 126
                then user_id
            else nullif(regexp_replace(user_id, :blank_pattern, ''), '')
        end as user_id_text,
        case
            when ascii(product_id) between 33 and 126
                and ascii(right(product_id, 1)) between 33 and 126
                then product_id
            else nullif(regexp_replace(product_id, :blank_pattern, ''), '')
        end as product_id_text,
        case
            when ascii(event_type) between 33 and 126
                and ascii(right(event_type, 1)) between 33 and 126
                then event_type
            else nullif(regexp_replace(event_type, :blank_pattern, ''), '')
        end as event_type_text,
        case
            when ascii(event_id) between 33 and 126 and ascii(right(event_id, 1)) between 33 and 126
                then event_id
            else nullif(regexp_replace(event_id, :blank_pattern, ''), '')
        end as event_id_text,
        case
            when ascii(channel) between 33 and 126 and ascii(right(channel, 1)) between 33 and 126
                then channel
            else nullif(regexp_replace(channel, :blank_pattern, ''), '')
        end as channel_text
    from source
),

parsed as (
    select
        stripped.*,
        stripped.event_time_typed as event_time_utc,
        stripped.amount_typed as amount_value,
        coalesce(event_type_map.event_type, 'other') as canonical_event_type
    from stripped
    left join event_type_map
        on lower(stripped.event_type_text) = event_type_map.source_value
),

checked as (
    select
        *,
        case
            when user_id_text is null then 'missing_user_id'
            when event_time_typed is null then 'missing_event_time'
            when event_time_utc < cast(:min_event_time as timestamp_ntz)
                or event_time_utc >= cast(:max_event_time as timestamp_ntz)
                then 'event_time_out_of_range'
            when product_id_text is null then 'missing_product_id'
            when event_type_text is null then 'missing_event_type'
            when abs(amount_value) > 1e15 or isnan(amount_value)
                or abs(amount_value) = double('Infinity') then 'amount_out_of_range'
            when :amount_mapped and amount_value is null
                and canonical_event_type in ('purchase', 'refund') then 'missing_amount'
        end as reject_reason
    from parsed
),

final as (
    select
        product_id,
        user_id,
        case when reject_reason is null then event_id_text end as event_id,
        event_type,
        case when reject_reason is null then channel_text end as channel,
        canonical_event_type,
        event_time_utc,
        amount_value,
        case
            when reject_reason is null and :timezone = 'UTC'
                then cast(event_time_utc as date)
            when reject_reason is null
                then to_date(
                    from_utc_timestamp(cast(event_time_utc as timestamp_ltz), :timezone)
                )
        end as event_date,
        reject_reason,
        case when reject_reason is not null then event_time_typed end
            as rejected_event_time_typed,
        case when reject_reason is not null then amount_typed end as rejected_amount_typed,
        case when reject_reason is not null then event_id end as rejected_event_id,
        case when reject_reason is not null then channel end as rejected_channel,
        case when reject_reason is not null then source_uri end as rejected_source_uri
    from checked
)

select * from final
