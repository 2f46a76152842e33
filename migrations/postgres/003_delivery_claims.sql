-- okta-token-watch schema, version 3, for PostgreSQL: which process runs a tick.
ALTER TABLE ticks ADD COLUMN pid INTEGER;
