-- parsed_events: one row per source row, typed, with the reason it cannot be
-- used (NULL when it can). A temp table of the run, read by rejected_events,
-- the staging counts and the views usable_events / stg_events, which the
-- features read; it lives until the features are built. It holds the columns
-- those need and no more (at tens of millions of rows every column costs seconds):
-- event_id and channel cleaned on usable rows, their original text, the
-- original time and amount text and the source file only on rejected rows.
-- inputs: src_events (contract column names: user_id, event_time, event_type,
--         amount, product_id, channel, event_id as text, plus event_time_typed
--         and amount_typed when the source already has those types),
--         event_type_map (source_value, event_type), the macros strip_blank
--         and is_blank
--         (macros.sql)
-- params: $use_event_time_format, $event_time_format (strptime),
--         $event_time_format_is_date (the format has no time of day),
--         $min_event_time, $max_event_time, $amount_mapped, $timezone,
--         $decimal_comma (the source writes amounts as 12,50)
-- Naive timestamps are taken as UTC; offsets (Z, +02:00) are honoured; digits
-- only are epoch seconds (9-10 digits) or epoch milliseconds (12-13 digits).
-- A plain date (or a format without time of day) is a calendar day: it starts
-- at midnight in $timezone, so it keeps its day west of Greenwich too.
-- A time must start with a digit (DuckDB would also read the words 'epoch',
-- 'infinity' as times) and a numeric offset must exist on Earth (-14:00 to
-- +14:00, minutes below 60: DuckDB would read '+05:99' as +06:39).
-- An amount is a plain number with at most one currency sign (DuckDB would
-- also read '1_000' as 1000); 'NaN' and '1e999' are numbers but not finite,
-- so they are rejected too. With $decimal_comma the comma is the decimal
-- separator and a point has no meaning (it may be a thousands separator):
-- it becomes '#', so such an amount is rejected, never misread.
-- event_date (the day in $timezone) is only taken for usable rows: a time
-- near DuckDB's limits (year 294247) cannot be moved into another zone.
with source as (
    select * from src_events
),

texts as (
    select
        *,
        strip_blank(event_time) as event_time_text,
        strip_blank(amount) as amount_text,
        case
            when $decimal_comma then translate(
                regexp_replace(strip_blank(amount), '^[$€£¥]\s*|\s*[$€£¥]$', ''), ',.', '.#'
            )
            else regexp_replace(strip_blank(amount), '^[$€£¥]\s*|\s*[$€£¥]$', '')
        end as amount_number
    from source
),

parsed as (
    select
        texts.*,
        coalesce(
            texts.event_time_typed,
            case
                when $use_event_time_format and $event_time_format_is_date
                    then timezone(
                        'UTC', timezone($timezone, try_strptime(event_time_text, $event_time_format))
                    )
                when $use_event_time_format
                    then timezone(
                        'UTC', try_strptime(event_time_text, $event_time_format)::timestamptz
                    )
                when regexp_full_match(event_time_text, '[0-9]{9,10}([.][0-9]+)?')
                    then timezone('UTC', to_timestamp(event_time_text::double))
                when regexp_full_match(event_time_text, '[0-9]{12,13}')
                    then epoch_ms(event_time_text::bigint)
                when not regexp_matches(event_time_text, '^[0-9]') then null
                when regexp_full_match(event_time_text, '[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}')
                    then timezone(
                        'UTC', timezone($timezone, try_cast(event_time_text as timestamp))
                    )
                when regexp_matches(event_time_text, ':[0-9]{2}([.,][0-9]+)?[+-][0-9:]+$')
                    and not regexp_matches(
                        event_time_text, ':[0-9]{2}([.,][0-9]+)?[+-](0[0-9]|1[0-4])(:?[0-5][0-9])?$'
                    )
                    then null
                else timezone('UTC', try_cast(event_time_text as timestamptz))
            end
        ) as event_time_utc,
        coalesce(
            texts.amount_typed,
            case
                when regexp_full_match(
                    amount_number, '[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?'
                ) then try_cast(amount_number as double)
            end
        ) as amount_value,
        coalesce(event_type_map.event_type, 'other') as canonical_event_type
    from texts
    left join event_type_map
        on lower(strip_blank(texts.event_type)) = event_type_map.source_value
),

checked as (
    select
        *,
        case
            when is_blank(user_id) then 'missing_user_id'
            when event_time_text is null and event_time_typed is null then 'missing_event_time'
            when event_time_utc is null then 'unparseable_event_time'
            when event_time_utc < $min_event_time::timestamp
                or event_time_utc >= $max_event_time::timestamp then 'event_time_out_of_range'
            when is_blank(product_id) then 'missing_product_id'
            when is_blank(event_type) then 'missing_event_type'
            when amount_text is not null and (amount_value is null or not isfinite(amount_value))
                then 'unparseable_amount'
            -- beyond 1e15 in absolute value the per-user and per-day sums could
            -- overflow (and no real order is that large): one row, not the run
            when abs(amount_value) > 1e15 or not isfinite(amount_value)
                then 'amount_out_of_range'
            when $amount_mapped and amount_value is null
                and canonical_event_type in ('purchase', 'refund') then 'missing_amount'
        end as reject_reason
    from parsed
),

final as (
    select
        product_id,
        user_id,
        case when reject_reason is null then strip_blank(event_id) end as event_id,
        event_type,
        case when reject_reason is null then strip_blank(channel) end as channel,
        canonical_event_type,
        event_time_utc,
        amount_value,
        case
            when reject_reason is null and $timezone = 'UTC'
                then cast(event_time_utc as date)
            when reject_reason is null
                then cast(timezone($timezone, event_time_utc::timestamptz) as date)
        end as event_date,
        reject_reason,
        case
            when reject_reason is not null
                then coalesce(event_time, cast(event_time_typed as varchar))
        end as rejected_event_time,
        case
            when reject_reason is not null then coalesce(amount, cast(amount_typed as varchar))
        end as rejected_amount,
        case when reject_reason is not null then event_id end as rejected_event_id,
        case when reject_reason is not null then channel end as rejected_channel,
        case when reject_reason is not null then source_file end as rejected_source_file
    from checked
)

select * from final
