-- Macros of the staging models, created for the run's connection before them.
-- strip_blank(s): s without leading and trailing whitespace of any kind
-- (spaces, tabs, line breaks, no-break and other Unicode spaces), NULL when
-- nothing else is left. trim() alone removes spaces only, so a user id or an
-- event_id of "\t" or "\r\n" would count as a real one.
-- Most values start and end with a printable ASCII character and are kept as
-- they are; only the others go through the (slower) regular expression.
create or replace temp macro strip_blank(s) as
    case
        when unicode(s) between 33 and 126 and unicode(right(s, 1)) between 33 and 126 then s
        else nullif(regexp_replace(s, '^[\s\v\p{Z}\x{85}]+|[\s\v\p{Z}\x{85}]+$', '', 'g'), '')
    end;

-- is_blank(s): strip_blank(s) is null, cheaply for the usual value: one that
-- starts with a printable ASCII character cannot be blank, so only the others
-- are stripped (the check of the last character costs as much as the first).
create or replace temp macro is_blank(s) as
    s is null or (not coalesce(unicode(s) between 33 and 126, false) and strip_blank(s) is null);
