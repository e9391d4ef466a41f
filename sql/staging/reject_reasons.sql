-- reject_reasons: why a run's rows were rejected, for the reject gate's error.
-- Per reason: how many rows, the column the reason is about (the event time
-- of an unparseable_event_time, the whole line of a malformed_csv_line, ...)
-- and a few distinct raw values of it, from which the error shows an example
-- and recognises the setting that would fix it (a date format, a decimal
-- comma, a delimiter). Samples are picked by md5 of the value: a fixed,
-- varied choice, not the alphabetically first ones (which are all January).
-- grain: one row per reason and sample (no sample row when every value is
-- empty). inputs: rejected_events. params: run_id, samples (per reason)
with rejected as (
    select
        reason,
        case
            when reason = 'missing_user_id' then 'user_id'
            when reason in ('missing_event_time', 'unparseable_event_time', 'event_time_out_of_range')
                then 'event_time'
            when reason = 'missing_product_id' then 'product_id'
            when reason = 'missing_event_type' then 'event_type'
            when reason in ('unparseable_amount', 'amount_out_of_range', 'missing_amount')
                then 'amount'
            when reason = 'conflicting_duplicate' then 'event_id'
            else 'source_text'
        end as column_name,
        case
            when reason = 'missing_user_id' then user_id
            when reason in ('missing_event_time', 'unparseable_event_time', 'event_time_out_of_range')
                then event_time
            when reason = 'missing_product_id' then product_id
            when reason = 'missing_event_type' then event_type
            when reason in ('unparseable_amount', 'amount_out_of_range', 'missing_amount')
                then amount
            when reason = 'conflicting_duplicate' then event_id
            else source_text
        end as raw_value
    from rejected_events
    where run_id = $run_id
),

reasons as (
    select reason, min(column_name) as column_name, count(*) as rejected_rows
    from rejected
    group by reason
),

distinct_values as (
    select distinct reason, raw_value
    from rejected
    where nullif(trim(raw_value), '') is not null
),

samples as (
    select
        reason,
        raw_value,
        row_number() over (partition by reason order by md5(raw_value), raw_value) as sample
    from distinct_values
),

final as (
    select reasons.reason, reasons.column_name, reasons.rejected_rows, samples.raw_value
    from reasons
    left join samples on reasons.reason = samples.reason and samples.sample <= $samples
    order by reasons.rejected_rows desc, reasons.reason, samples.sample
)

select * from final
