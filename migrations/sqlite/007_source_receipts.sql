-- okta-token-watch schema, version 7.
-- Sources without a cursor (an Okta Event Hook pushes; there is nothing to resume from) record
-- their receipt instead, written in the same transaction as the batch they received: when the
-- last batch arrived, and how many batches and entries each source has handed to ingest.
CREATE TABLE source_receipts (
  source            TEXT PRIMARY KEY,
  last_received_at  TEXT NOT NULL,
  batches           INTEGER NOT NULL DEFAULT 0,
  events            INTEGER NOT NULL DEFAULT 0,
  updated_at        TEXT NOT NULL
);
