-- okta-token-watch schema, version 16, for PostgreSQL: who acts on each Slack click (see the
-- SQLite migration of the same number).
ALTER TABLE slack_inbox ADD COLUMN claimed_by TEXT;
