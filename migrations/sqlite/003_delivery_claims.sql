-- Which process runs a tick, so a second process (poll, backfill) never marks a live daemon's tick
-- as abandoned. Deliveries are claimed by moving next_attempt_at forward (a lease) before a send,
-- so two processes on one database never send the same row at the same time.
ALTER TABLE ticks ADD COLUMN pid INTEGER;
