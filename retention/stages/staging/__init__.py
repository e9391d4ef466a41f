"""Raw events -> stg_events and rejected_events (sql/staging/)."""
