-- export_rows: every user to contact in this export, with the address for the
-- chosen channel and a few useful scores. Only users the run sent (no
-- suppression reason: never junk, holdout, capped, opted-out or invalid) and
-- whom the contacts behind $contacts_run_id still allow on that channel: the
-- run's own contacts when the run exports, the sources as they are now when
-- `retention export` writes the files again (so a re-export can only drop
-- people, see export_drops).
-- grain: one row per (product_id, user_id) sent.
-- inputs: playbook_assignments, contacts, channel_problems (temp, from
-- $contacts_run_id), user_scores, user_tiers. params: $run_id, $contacts_run_id
select
    assignments.product_id,
    assignments.user_id,
    assignments.tier,
    assignments.playbook,
    assignments.channel,
    contacts.email,
    contacts.email_key,
    contacts.phone_e164,
    contacts.country,
    scores.clv,
    scores.p_alive,
    scores.rfm_segment,
    tiers.reason as tier_reason
from playbook_assignments as assignments
inner join channel_problems as problems
    on assignments.user_id = problems.user_id
    and assignments.channel = problems.channel
    and problems.problem is null
inner join contacts
    on contacts.run_id = $contacts_run_id and assignments.user_id = contacts.user_id
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
