-- export_folders: the export folders the reported run's sends were written to
-- (the full export `run-<id>` first, then partial re-exports).
-- grain: one row per folder name. inputs: sends. params: $run_id
select file, count(*) as sends
from sends
where run_id = $run_id
group by file
order by file <> 'run-' || cast($run_id as varchar), file
