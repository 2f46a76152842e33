-- okta-token-watch schema, version 9.
-- Okta's clock minus the local one (ms), from the Date header of the System Log responses, as
-- measured by the last tick that caught up: the poller keeps its times on Okta's clock, and
-- `status` (another process) shows how far off the local clock is. NULL until measured.
ALTER TABLE poll_progress ADD COLUMN okta_clock_offset_ms INTEGER;
