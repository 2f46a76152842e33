-- okta-token-watch schema, version 8, for PostgreSQL: the Okta event hook this installation registered.
CREATE TABLE registered_event_hook (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  hook_id TEXT NOT NULL,
  uri TEXT NOT NULL,
  registered_at TEXT NOT NULL
);
