-- okta-token-watch schema, version 12: an analyst's responses to alerts (issue 13).

-- The audit of every response attempt, from Slack or the CLI, refused ones included. A revoke is
-- claimed by inserting its row as 'pending' inside an IMMEDIATE transaction, so that two processes
-- (the daemon's Slack click and a CLI) never both call Okta for the same token.
CREATE TABLE response_actions (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id      INTEGER REFERENCES alerts (id),  -- null when the attempt named no known alert
  target        TEXT NOT NULL,                   -- what was asked for (alert id or token id), bounded
  token_id      TEXT,                            -- the alert's token (00T...), when it has one
  action        TEXT NOT NULL CHECK (action IN ('revoke', 'expected', 'acknowledge')),
  by_via        TEXT NOT NULL CHECK (by_via IN ('slack', 'cli')),
  by_id         TEXT,
  by_name       TEXT,
  requested_at  TEXT NOT NULL,
  finished_at   TEXT,
  -- pending: a revoke in flight. duplicate: a repeat of a revoke that is pending or done (Okta not
  -- called again). refused: not allowed (RESPONDERS, RESPONSE_ACTIONS) or not possible.
  result        TEXT NOT NULL CHECK (result IN ('pending', 'revoked', 'already-gone', 'forbidden', 'failed', 'recorded', 'refused', 'duplicate')),
  reason        TEXT,
  error         TEXT
);
CREATE INDEX response_actions_alert ON response_actions (alert_id, id);
CREATE INDEX response_actions_token ON response_actions (token_id, action, result);
