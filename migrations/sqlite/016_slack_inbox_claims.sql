-- okta-token-watch schema, version 16: who acts on each Slack click.
-- Replicas share the inbox. A click is claimed by the replica that received it; another replica
-- acts on it only once that replica is no longer live (not seen within LEASE_TTL, or, on this host,
-- its process is gone), and takes it over with one compare-and-set, so one click is acted on once
-- even when several replicas start or sweep at the same moment. NULL: a row from before this
-- version, free for the first replica to claim it once older than LEASE_TTL.
ALTER TABLE slack_inbox ADD COLUMN claimed_by TEXT;
