-- okta-token-watch schema, version 7, for PostgreSQL: receipts of the sources without a cursor
-- (Okta Event Hook pushes). There is no version 6 on either engine.
CREATE TABLE source_receipts (
  source            TEXT PRIMARY KEY,
  last_received_at  TEXT NOT NULL,
  batches           BIGINT NOT NULL DEFAULT 0,
  events            BIGINT NOT NULL DEFAULT 0,
  updated_at        TEXT NOT NULL
);
