-- The presence history: one record per change of a user's status, phone, station or presence
-- session, written by ctid with the change's event (its `id` is the event's number in the
-- log). Kept for the retention period, whatever happens to the user (no foreign key).
-- `at` is Unix milliseconds, `until_at` Unix seconds.

CREATE TABLE history (
    id INTEGER PRIMARY KEY NOT NULL,
    at INTEGER NOT NULL,
    user_id INTEGER NOT NULL,
    username TEXT,
    kind TEXT NOT NULL,
    status_id TEXT,
    notes TEXT,
    forward_number TEXT,
    until_at INTEGER,
    on_phone INTEGER,
    station TEXT,
    session_id TEXT,
    actor_type TEXT NOT NULL,
    actor_name TEXT
);

CREATE INDEX history_by_at ON history (at);
CREATE INDEX history_by_user ON history (user_id, at);

-- Each user's present status and phone state start their history, numbered after the log's
-- last event (numbers the log then skips).
INSERT INTO sqlite_sequence (name, seq)
    SELECT 'events', 0 WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'events');

INSERT INTO history (id, at, user_id, username, kind, status_id, notes, forward_number, until_at, actor_type)
    SELECT (SELECT seq FROM sqlite_sequence WHERE name = 'events') + row_number() OVER (ORDER BY s.user_id),
           s.status_changed * 1000, s.user_id, u.username, 'status', s.status_id, s.notes, s.forward_number,
           s.until_at, 'system'
    FROM user_statuses s JOIN users u ON u.id = s.user_id;

INSERT INTO history (id, at, user_id, username, kind, on_phone, actor_type)
    SELECT (SELECT max(id) FROM history) + row_number() OVER (ORDER BY s.user_id),
           s.on_phone_changed * 1000, s.user_id, u.username, 'phone', 1, 'pbx'
    FROM user_statuses s JOIN users u ON u.id = s.user_id WHERE s.on_phone = 1;

UPDATE sqlite_sequence SET seq = max(seq, (SELECT coalesce(max(id), 0) FROM history)) WHERE name = 'events';

-- Previous info is read from the history now.
DROP TRIGGER user_statuses_previous_insert;
DROP TRIGGER user_statuses_previous_update;
DROP TABLE user_status_previous;
