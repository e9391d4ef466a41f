-- parsed_events: one row per source row, typed, with the reason it cannot be
-- used (NULL when it can). A temp table of the run, read by stg_events,
-- rejected_events and the staging counts.
-- inputs: src_events (contract column names: user_id, event_time, event_type,
--         amount, product_id, channel, event_id as text, plus event_time_typed
--         and amount_typed when the source already has those types),
--         event_type_map (source_value, event_type)
-- params: $use_event_time_format, $event_time_format (strptime), $min_event_time,
--         $max_event_time, $amount_mapped, $timezone
-- Naive timestamps are taken as UTC; offsets (Z, +02:00) are honoured; digits
-- only are epoch seconds (9-10 digits) or epoch milliseconds (12-13 digits).
with source as (
    select * from src_events
),

parsed as (
    select
        source.*,
        nullif(trim(source.event_time), '') as event_time_text,
        nullif(trim(source.amount), '') as amount_text,
        coalesce(
            source.event_time_typed,
            case
                when $use_event_time_format
                    then timezone('UTC', try_strptime(trim(source.event_time), $event_time_format)::timestamptz)
                when regexp_full_match(trim(source.event_time), '[0-9]{9,10}([.][0-9]+)?')
                    then timezone('UTC', to_timestamp(trim(source.event_time)::double))
                when regexp_full_match(trim(source.event_time), '[0-9]{12,13}')
                    then epoch_ms(trim(source.event_time)::bigint)
                else timezone('UTC', try_cast(trim(source.event_time) as timestamptz))
            end
        ) as event_time_utc,
        coalesce(
            source.amount_typed,
            try_cast(regexp_replace(trim(source.amount), '^[$€£¥]\s*|\s*[$€£¥]$', '') as double)
        ) as amount_value,
        coalesce(event_type_map.event_type, 'other') as canonical_event_type
    from source
    left join event_type_map
        on lower(trim(source.event_type)) = event_type_map.source_value
),

final as (
    select
        *,
        case
            when user_id is null or trim(user_id) = '' then 'missing_user_id'
            when event_time_text is null and event_time_typed is null then 'missing_event_time'
            when event_time_utc is null then 'unparseable_event_time'
            when event_time_utc < $min_event_time::timestamp
                or event_time_utc >= $max_event_time::timestamp then 'event_time_out_of_range'
            when product_id is null or trim(product_id) = '' then 'missing_product_id'
            when event_type is null or trim(event_type) = '' then 'missing_event_type'
            when amount_text is not null and (amount_value is null or not isfinite(amount_value))
                then 'unparseable_amount'
            when $amount_mapped and amount_value is null
                and canonical_event_type in ('purchase', 'refund') then 'missing_amount'
        end as reject_reason,
        cast(timezone($timezone, event_time_utc::timestamptz) as date) as event_date
    from parsed
)

select * from final
