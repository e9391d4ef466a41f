-- sends: the contact history one export adds: one row per user written to a
-- file, dated by the run's as_of (what frequency caps count). A person every
-- chosen campaign-tool profile refused (their rows are listed in the
-- manifest, in no file) was not sent, so the frequency cap does not count them.
-- grain: one row per (run_id, product_id, user_id, playbook, channel).
-- inputs: export_rows (temp: the users to send), written_people (temp:
-- user_id, channel of everyone some file names), exported_pairs (temp:
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
semi join written_people
    on export_rows.user_id = written_people.user_id
    and export_rows.channel = written_people.channel
