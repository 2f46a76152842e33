-- okta-token-watch schema, version 11, for PostgreSQL: the watch of each new token (see the SQLite
-- file for what each column means).
CREATE TABLE token_watches (
  token_id          TEXT PRIMARY KEY,
  alert_id          BIGINT NOT NULL UNIQUE REFERENCES alerts (id),
  token_name        TEXT,
  created_published TEXT NOT NULL,
  watch_until       TEXT NOT NULL,
  started_at        TEXT NOT NULL,
  followed_through  TEXT,
  first_use_uuid    TEXT,
  first_use_at      TEXT,
  last_use_at       TEXT,
  events            BIGINT NOT NULL DEFAULT 0,
  sensitive         BIGINT NOT NULL DEFAULT 0,
  revoked_at        TEXT,
  revoked_by        TEXT,
  closed_at         TEXT,
  close_reason      TEXT CHECK (close_reason IN ('window-ended', 'revoked', 'expired', 'off'))
);
CREATE INDEX token_watches_open ON token_watches (closed_at, token_id);

CREATE TABLE token_activity (
  event_uuid  TEXT PRIMARY KEY REFERENCES events (uuid),
  token_id    TEXT NOT NULL REFERENCES token_watches (token_id),
  published   TEXT NOT NULL,
  event_type  TEXT NOT NULL,
  sensitive   TEXT
);
CREATE INDEX token_activity_token ON token_activity (token_id, published);

CREATE TABLE follow_cursors (
  group_key   TEXT PRIMARY KEY,
  next_url    TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);

CREATE INDEX events_token_id ON events (token_id) WHERE token_id IS NOT NULL;
