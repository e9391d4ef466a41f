-- playbook_people: per playbook and channel of the reported run, how many of
-- the product's users are in the export (no suppression reason), held out, or
-- left out for another reason.
-- grain: one row per (playbook, channel); channel is NULL for users with no
-- reachable channel. inputs: playbook_assignments.
-- params: $run_id, $product
select
    playbook,
    channel,
    count(*) filter (where suppressed_reason is null) as to_contact,
    count(*) filter (where holdout) as held_out,
    count(*) filter (where suppressed_reason is not null and not holdout) as left_out
from playbook_assignments
where run_id = $run_id and product_id = $product and playbook is not null
group by all
order by playbook, channel nulls last
