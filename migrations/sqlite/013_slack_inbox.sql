-- okta-token-watch schema, version 13: the Slack app's inbox.
-- Every interactive envelope is written here BEFORE it is acknowledged, and marked handled once its
-- action was carried out (or refused, or ignored). Slack sends an acknowledged envelope only once:
-- a click acknowledged by a process that died before acting on it is taken from here at the next
-- start, never lost.
CREATE TABLE slack_inbox (
  envelope_id  TEXT PRIMARY KEY,
  payload      TEXT NOT NULL,
  received_at  TEXT NOT NULL,
  handled_at   TEXT
);
CREATE INDEX slack_inbox_unhandled ON slack_inbox (handled_at);
