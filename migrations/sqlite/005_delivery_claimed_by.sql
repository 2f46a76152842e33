-- Which process holds a delivery's claim. A live process that sent a row but could not yet record
-- it (database locked, disk full) keeps retrying the record; its claim must outlive the lease, so
-- other processes skip a row whose claimer is still alive instead of sending it again.
ALTER TABLE deliveries ADD COLUMN claimed_by INTEGER;
