-- okta-token-watch schema, version 5, for PostgreSQL: which process holds a delivery's claim.
ALTER TABLE deliveries ADD COLUMN claimed_by INTEGER;
