"""Privacy at rest: the keys kept outside the database, encrypted columns, retention, backup.

See docs/adr/0007-keys-encryption-and-retention.md.
"""
