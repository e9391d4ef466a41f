-- contact_suppressions: every address this run must not contact, per channel,
-- and why. reason: suppressed_list (on [source.suppressions], the campaign
-- tool's global list; detail holds the list's own reason), malformed_contact_row
-- (named by a contacts line that could not be read), no_consent (a row names
-- the address without an explicit yes). An email address applies to the email
-- channel, a phone to sms and call.
-- grain: one row per (channel, address_kind, address, reason).
-- inputs: address_consent, suppression_list (temp: address_kind, address,
-- channel, list_reason). params: $run_id
with consent as (
    select * from address_consent
),

listed as (
    select * from suppression_list
),

channels (address_kind, channel) as (
    values ('email', 'email'), ('phone', 'sms'), ('phone', 'call')
),

from_contacts as (
    select consent.address_kind, consent.address, 'malformed_contact_row' as reason,
        cast(null as varchar) as detail
    from consent
    where consent.is_in_malformed_line
    union all
    select consent.address_kind, consent.address, 'no_consent' as reason,
        'rows without a yes: ' || cast(consent.withdrawing_rows as varchar) as detail
    from consent
    where consent.withdrawing_rows > 0 and not consent.is_in_malformed_line
),

final as (
    select distinct
        $run_id as run_id,
        channels.channel,
        from_contacts.address_kind,
        from_contacts.address,
        from_contacts.reason,
        from_contacts.detail
    from from_contacts
    inner join channels on from_contacts.address_kind = channels.address_kind
    union all
    select distinct
        $run_id as run_id,
        listed.channel,
        listed.address_kind,
        listed.address,
        'suppressed_list' as reason,
        listed.list_reason as detail
    from listed
)

select * from final
