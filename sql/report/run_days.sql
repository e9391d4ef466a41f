-- run_days (report): the published run standing for each as_of day, oldest first,
-- up to and including the reported run's day. The reported run stands for its
-- own day even when a later run of that day replaced it in `run_days`, so
-- `retention report --run` compares that run, not its replacement, with the
-- day before.
-- grain: one row per as_of day. inputs: runs. params: $run_id, $as_of
with day_runs as (
    select
        run_id,
        as_of,
        finished_at,
        row_number() over (
            partition by as_of
            order by run_id = $run_id desc, finished_at desc, run_id desc
        ) as pick
    from runs
    where status = 'published' and as_of is not null and as_of <= $as_of
),

final as (
    select as_of, run_id, finished_at from day_runs where pick = 1
)

select * from final order by as_of
