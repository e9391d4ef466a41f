-- sends: the contact history one export adds: one row per user written to a
-- file, dated by the run's as_of (what frequency caps count).
-- grain: one row per (run_id, product_id, user_id, playbook, channel).
-- inputs: export_rows (temp: the users written), exported_pairs (temp:
-- playbook, channel of the files written). params: $run_id, $as_of, $folder
select
    $run_id as run_id,
    export_rows.product_id,
    export_rows.user_id,
    export_rows.playbook,
    export_rows.channel,
    $as_of::date as sent_on,
    now()::timestamp as exported_at,
    $folder as file
from export_rows
inner join exported_pairs
    on export_rows.playbook = exported_pairs.playbook
    and export_rows.channel = exported_pairs.channel
