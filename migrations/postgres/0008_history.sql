-- The presence history: one record per change of a user's status, phone, station or presence
-- session, written by ctid with the change's event (its `id` is the event's number in the
-- log). Kept for the retention period, whatever happens to the user (no foreign key).
-- `at` is Unix milliseconds, `until_at` Unix seconds.

CREATE TABLE history (
    id BIGINT NOT NULL CONSTRAINT history_pkey PRIMARY KEY,
    at BIGINT NOT NULL,
    user_id BIGINT NOT NULL,
    username TEXT,
    kind TEXT NOT NULL,
    status_id TEXT,
    notes TEXT,
    forward_number TEXT,
    until_at BIGINT,
    on_phone BIGINT,
    station TEXT,
    session_id TEXT,
    actor_type TEXT NOT NULL,
    actor_name TEXT
);

CREATE INDEX history_by_at ON history (at);
CREATE INDEX history_by_user ON history (user_id, at);

-- Each user's present status and phone state start their history, numbered from the log's
-- sequence (numbers the log then skips).
SELECT ctid_log_lock();

INSERT INTO history (id, at, user_id, username, kind, status_id, notes, forward_number, until_at, actor_type)
    SELECT nextval('events_seq'), s.status_changed * 1000, s.user_id, u.username, 'status', s.status_id,
           s.notes, s.forward_number, s.until_at, 'system'
    FROM user_statuses s JOIN users u ON u.id = s.user_id ORDER BY s.user_id;

INSERT INTO history (id, at, user_id, username, kind, on_phone, actor_type)
    SELECT nextval('events_seq'), s.on_phone_changed * 1000, s.user_id, u.username, 'phone', 1, 'pbx'
    FROM user_statuses s JOIN users u ON u.id = s.user_id WHERE s.on_phone ORDER BY s.user_id;

-- Previous info is read from the history now.
DROP TRIGGER user_statuses_previous_insert ON user_statuses;
DROP TRIGGER user_statuses_previous_update ON user_statuses;
DROP FUNCTION ctid_keep_previous_info();
DROP TABLE user_status_previous;
