-- sends: the contact history one export adds: one row per user written to a
-- file, dated by the run's as_of (what frequency caps count).
-- grain: one row per (run_id, product_id, user_id, playbook, channel).
-- inputs: playbook_assignments, exported_pairs (temp: playbook, channel of the
-- files written). params: $run_id, $as_of, $folder
select
    assignments.run_id,
    assignments.product_id,
    assignments.user_id,
    assignments.playbook,
    assignments.channel,
    $as_of::date as sent_on,
    now()::timestamp as exported_at,
    $folder as file
from playbook_assignments as assignments
inner join exported_pairs
    on assignments.playbook = exported_pairs.playbook
    and assignments.channel = exported_pairs.channel
where assignments.run_id = $run_id
    and assignments.suppressed_reason is null
    and not assignments.holdout
