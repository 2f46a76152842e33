-- okta-token-watch schema, version 13, for PostgreSQL: the Slack app's inbox.
CREATE TABLE slack_inbox (
  envelope_id  TEXT PRIMARY KEY,
  payload      TEXT NOT NULL,
  received_at  TEXT NOT NULL,
  handled_at   TEXT
);
CREATE INDEX slack_inbox_unhandled ON slack_inbox (handled_at);
