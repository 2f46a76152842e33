-- okta-token-watch schema, version 14, for PostgreSQL: many orgs in one database, and delivery
-- claims that name a replica (see the SQLite file for what each change means). PostgreSQL alters
-- the tables in place where SQLite rebuilt them; the resulting schema is the same.

ALTER TABLE events ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE alerts ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE summaries ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE ticks ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE token_watches ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE token_activity ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE response_actions ADD COLUMN org TEXT NOT NULL DEFAULT 'default';

-- History facts are per org: each index leads with it (lower() where SQLite has COLLATE NOCASE).
DROP INDEX events_actor_published;
DROP INDEX events_login_published;
DROP INDEX events_published;
DROP INDEX events_first_seen;
CREATE INDEX events_actor_published ON events (org, actor_id, published);
CREATE INDEX events_login_published ON events (org, lower(actor_login), published);
CREATE INDEX events_published ON events (org, published);
CREATE INDEX events_first_seen ON events (org, first_seen_at);
CREATE INDEX alerts_org ON alerts (org, id);
CREATE INDEX ticks_org_kind ON ticks (org, kind, id);
DROP INDEX token_watches_open;
CREATE INDEX token_watches_open ON token_watches (org, closed_at, token_id);

-- The singletons (one row, id = 1) become one row per org: dropping id drops its key and CHECK.
ALTER TABLE cursor ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE cursor DROP COLUMN id;
ALTER TABLE cursor ADD PRIMARY KEY (org);

ALTER TABLE poll_progress ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE poll_progress DROP COLUMN id;
ALTER TABLE poll_progress ADD PRIMARY KEY (org);

ALTER TABLE registered_event_hook ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE registered_event_hook DROP COLUMN id;
ALTER TABLE registered_event_hook ADD PRIMARY KEY (org);

-- Keyed by org too: each org has its own push receipts and its own follow groups.
ALTER TABLE source_receipts ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE source_receipts DROP CONSTRAINT source_receipts_pkey;
ALTER TABLE source_receipts ADD PRIMARY KEY (org, source);

ALTER TABLE follow_cursors ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE follow_cursors DROP CONSTRAINT follow_cursors_pkey;
ALTER TABLE follow_cursors ADD PRIMARY KEY (org, group_key);

-- A claim names the replica that holds it (`<hostname>:<pid>:<random hex>`); an older claim keeps
-- its pid as text.
ALTER TABLE deliveries ALTER COLUMN claimed_by TYPE TEXT USING CAST(claimed_by AS TEXT);
