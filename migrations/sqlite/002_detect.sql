-- okta-token-watch schema, version 2: indexes for the alert's history facts (src/detect/history.ts).
-- Actor facts use events_actor_published (001); these cover an actor known only by login, and the
-- start of the local history (MIN(first_seen_at)), so neither scans the table.
CREATE INDEX events_login_published ON events (actor_login COLLATE NOCASE, published);
CREATE INDEX events_first_seen ON events (first_seen_at);
