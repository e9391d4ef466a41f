-- contact_rejects: the contacts lines that could not be read, kept with their
-- text and reason so that someone can fix the export. Their addresses are
-- suppressed (contact_suppressions, reason malformed_contact_row).
-- grain: one row per malformed line. inputs: src_contact_lines (temp:
-- file_index, file_row, source_file, malformed_reason, source_text).
-- params: $run_id
select
    $run_id as run_id,
    source_file,
    file_row as source_line,
    'malformed_contact_row' as reason,
    malformed_reason as detail,
    source_text
from src_contact_lines
where malformed_reason is not null
