"""playbook_assignments -> campaign files, manifest and sends (sql/exports/)."""
