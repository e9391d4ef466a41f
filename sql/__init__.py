"""SQL models, one per file; installed as package data so the loader finds them."""
