-- okta-token-watch schema, version 15: leases and replicas.
-- Replicas sharing one database split the orgs between them: each org is polled by the one replica
-- whose lease on it has not expired. Times are ISO-8601 text from the database's clock (they sort
-- as text), so replicas whose own clocks disagree still agree on who holds what.
CREATE TABLE leases (
  org          TEXT PRIMARY KEY,
  holder       TEXT NOT NULL,
  acquired_at  TEXT NOT NULL,
  renewed_at   TEXT NOT NULL,
  expires_at   TEXT NOT NULL
);
CREATE INDEX leases_holder ON leases (holder);
-- One row per running replica, refreshed with its leases: the number of live replicas (seen within
-- two heartbeats, 2/3 of the lease TTL) sets each one's fair share of the orgs.
CREATE TABLE replicas (
  holder      TEXT PRIMARY KEY,
  host        TEXT,
  pid         INTEGER,
  started_at  TEXT,
  seen_at     TEXT
);
