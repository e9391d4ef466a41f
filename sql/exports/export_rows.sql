-- export_rows: every user to contact in this run, with the address for the
-- chosen channel and a few useful scores. Only users without a suppression
-- reason: never junk, holdout, capped, opted-out or invalid.
-- grain: one row per (product_id, user_id) sent.
-- inputs: playbook_assignments, contacts, user_scores, user_tiers. params: $run_id
select
    assignments.product_id,
    assignments.user_id,
    assignments.tier,
    assignments.playbook,
    assignments.channel,
    contacts.email,
    contacts.phone_e164,
    scores.clv,
    scores.p_alive,
    scores.rfm_segment,
    tiers.reason as tier_reason
from playbook_assignments as assignments
inner join contacts
    on contacts.run_id = $run_id and assignments.user_id = contacts.user_id
inner join user_scores as scores
    on scores.run_id = $run_id
    and assignments.product_id = scores.product_id
    and assignments.user_id = scores.user_id
inner join user_tiers as tiers
    on tiers.run_id = $run_id
    and assignments.product_id = tiers.product_id
    and assignments.user_id = tiers.user_id
where assignments.run_id = $run_id
    and assignments.suppressed_reason is null
    and not assignments.holdout
