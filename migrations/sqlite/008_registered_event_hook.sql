-- The Okta event hook this installation registered: `event-hook status`/`remove` and `check` find it
-- by id (a name can be taken by another hook), and the self-watch rule needs the id to recognise
-- System Log events about our hook. One row at most.
CREATE TABLE registered_event_hook (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  hook_id TEXT NOT NULL,
  uri TEXT NOT NULL,
  registered_at TEXT NOT NULL
);
