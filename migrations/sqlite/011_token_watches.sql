-- okta-token-watch schema, version 11: the watch of each new token.

-- One row per token this program alerted on (a successful creation with a known token id): the
-- watch runs from the token's creation until FOLLOW_WINDOW later, or until the token is revoked.
CREATE TABLE token_watches (
  token_id          TEXT PRIMARY KEY,
  alert_id          INTEGER NOT NULL UNIQUE REFERENCES alerts (id),
  token_name        TEXT,
  created_published TEXT NOT NULL,  -- the creation event's published time (Okta's clock)
  watch_until       TEXT NOT NULL,  -- created_published + FOLLOW_WINDOW
  started_at        TEXT NOT NULL,  -- when this program started the watch (local clock)
  -- Every event of this token persisted before this time has been read by the follow query
  -- (Okta's clock): the start of the last follow tick that reached the end of the log for a group
  -- holding this token. Null until one did; the next query then starts at the creation.
  followed_through  TEXT,
  first_use_uuid    TEXT,
  first_use_at      TEXT,
  last_use_at       TEXT,
  events            INTEGER NOT NULL DEFAULT 0,
  sensitive         INTEGER NOT NULL DEFAULT 0,
  revoked_at        TEXT,
  revoked_by        TEXT,
  closed_at         TEXT,           -- set when the digest is queued; a closed watch is not queried
  close_reason      TEXT CHECK (close_reason IN ('window-ended', 'revoked', 'expired', 'off'))
);
CREATE INDEX token_watches_open ON token_watches (closed_at, token_id);

-- Each event caused by a request made with a watched token (transaction.detail.requestApiTokenId),
-- whichever path stored the event first.
CREATE TABLE token_activity (
  event_uuid  TEXT PRIMARY KEY REFERENCES events (uuid),
  token_id    TEXT NOT NULL REFERENCES token_watches (token_id),
  published   TEXT NOT NULL,
  event_type  TEXT NOT NULL,
  sensitive   TEXT            -- the sensitive category (src/follow/sensitive.ts), or null
);
CREATE INDEX token_activity_token ON token_activity (token_id, published);

-- Where the follow query resumes: the `next` link Okta gave for one group of watched tokens,
-- keyed by the group's sorted token ids (a group that changes starts a time-based query instead).
CREATE TABLE follow_cursors (
  group_key   TEXT PRIMARY KEY,
  next_url    TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);

-- "The alert on this token's creation" (lifecycle follow-ups, `tokens`, `revoke <token-id>`) looks
-- events up by token id: without an index that is a scan of every stored event.
CREATE INDEX events_token_id ON events (token_id) WHERE token_id IS NOT NULL;
