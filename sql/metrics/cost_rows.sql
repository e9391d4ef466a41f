-- cost_rows: the optional costs source, one row per source row, typed, with
-- the reason it cannot be used (NULL when it can). A temp table of the
-- metrics stage, read by channel_metrics; metrics.py counts and logs the
-- rejected ones.
-- grain: one row per source row.
-- inputs: src_costs (contract columns product_id, channel, day, spend as text;
--         product_id is NULL when the costs source does not map it)
-- params: $decimal_comma (the source writes spend as 12,50: the comma is the
--         decimal separator and a point is rejected, never guessed, as for
--         event amounts)
-- Values are trimmed. day is a date (a timestamp counts for its date); spend is
-- a finite number, with an optional currency sign as in event amounts. A
-- negative spend (a credit) is kept. Channel names are matched exactly, like
-- the channel of events.
with source as (
    select * from src_costs
),

parsed as (
    select
        nullif(trim(product_id), '') as product_id,
        nullif(trim(channel), '') as channel,
        nullif(trim(day), '') as day_text,
        nullif(trim(spend), '') as spend_text,
        try_cast(trim(day) as date) as day,
        try_cast(
            case
                when $decimal_comma then translate(
                    regexp_replace(trim(spend), '^[$€£¥]\s*|\s*[$€£¥]$', ''), ',.', '.#'
                )
                else regexp_replace(trim(spend), '^[$€£¥]\s*|\s*[$€£¥]$', '')
            end as double
        ) as spend
    from source
),

final as (
    select
        product_id,
        channel,
        day,
        spend,
        day_text,
        spend_text,
        case
            when channel is null then 'missing_channel'
            when day_text is null then 'missing_day'
            when day is null then 'unparseable_day'
            when spend_text is null then 'missing_spend'
            when spend is null or not isfinite(spend) then 'unparseable_spend'
        end as reject_reason
    from parsed
)

select * from final
