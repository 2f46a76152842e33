-- okta-token-watch schema, version 9, for PostgreSQL: Okta's clock minus the local one (ms).
ALTER TABLE poll_progress ADD COLUMN okta_clock_offset_ms BIGINT;
