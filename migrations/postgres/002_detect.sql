-- okta-token-watch schema, version 2, for PostgreSQL: the history facts' indexes. SQLite indexes
-- actor_login COLLATE NOCASE; PostgreSQL has no NOCASE collation, so the same index is on
-- lower(actor_login), which a case-insensitive comparison written as lower(...) = lower(?) uses.
CREATE INDEX events_login_published ON events (lower(actor_login), published);
CREATE INDEX events_first_seen ON events (first_seen_at);
