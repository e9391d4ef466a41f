-- export_drops: users the run sent whom the contacts behind contacts_run_id
-- no longer allow on their channel, by reason (a re-export after an opt-out,
-- a new suppression-list entry or a changed address). Empty when a run
-- exports its own contacts.
-- grain: one row per (playbook, channel, reason).
-- inputs: playbook_assignments, channel_problems (temp). params: $run_id
select
    assignments.playbook,
    assignments.channel,
    coalesce(problems.problem, 'no_contact') as reason,
    count(*) as users
from playbook_assignments as assignments
left join channel_problems as problems
    on assignments.user_id = problems.user_id and assignments.channel = problems.channel
where assignments.run_id = $run_id
    and assignments.suppressed_reason is null
    and not assignments.holdout
    and (problems.user_id is null or problems.problem is not null)
group by assignments.playbook, assignments.channel, coalesce(problems.problem, 'no_contact')
order by assignments.playbook, assignments.channel, reason
