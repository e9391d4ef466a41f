"""The contacts source -> contacts: consent and addresses (sql/contacts/)."""
