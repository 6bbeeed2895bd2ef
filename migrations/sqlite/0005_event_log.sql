-- The numbered event log the presence engine applies (as on PostgreSQL), and the presence
-- sessions, which survive a restart. Events are written in the transaction of the change they
-- record: status changes and session changes by ctid itself, data changes by the triggers
-- below, so that no write path can forget them.

CREATE TABLE events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    user_id INTEGER,
    payload TEXT,
    -- Unix milliseconds.
    at INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);

CREATE INDEX events_at ON events (at);

-- Open presence sessions: `record` is the session as JSON (credentials only as hashes),
-- `drained` the id of the last message handed to the client, `last_seen` the last activity
-- (Unix milliseconds).
CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    record TEXT NOT NULL,
    drained INTEGER NOT NULL DEFAULT 0,
    last_seen INTEGER NOT NULL DEFAULT (CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER))
);

CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen);

CREATE TRIGGER users_log_insert AFTER INSERT ON users BEGIN
    INSERT INTO events (kind, user_id) VALUES ('user', NEW.id);
END;

CREATE TRIGGER users_log_delete AFTER DELETE ON users BEGIN
    INSERT INTO events (kind, user_id) VALUES ('user_deleted', OLD.id);
END;

-- Without a profile, the user's sessions are over.
CREATE TRIGGER users_log_profile_removed AFTER UPDATE ON users
    WHEN NEW.cti_profile_id IS NULL AND OLD.cti_profile_id IS NOT NULL BEGIN
    DELETE FROM sessions WHERE user_id = NEW.id;
    INSERT INTO events (kind, user_id) VALUES ('profile_removed', NEW.id);
END;

CREATE TRIGGER users_log_rights AFTER UPDATE ON users
    WHEN NEW.cti_profile_id IS NOT NULL AND NEW.cti_profile_id IS NOT OLD.cti_profile_id BEGIN
    INSERT INTO events (kind, user_id) VALUES ('rights', NEW.id);
END;

CREATE TRIGGER users_log_update AFTER UPDATE ON users
    WHEN NEW.cti_profile_id IS OLD.cti_profile_id BEGIN
    INSERT INTO events (kind, user_id) VALUES ('user', NEW.id);
END;

-- Profiles and the catalog: one event per row changed (the engine applies a run of them once).
-- A new profile concerns nobody yet; an edit replaces its allowed statuses (delete, insert).
CREATE TRIGGER cti_profiles_log_update AFTER UPDATE ON cti_profiles BEGIN
    INSERT INTO events (kind) VALUES ('profiles');
END;

CREATE TRIGGER cti_profiles_log_delete AFTER DELETE ON cti_profiles BEGIN
    INSERT INTO events (kind) VALUES ('profiles');
END;

CREATE TRIGGER cti_profile_statuses_log_delete AFTER DELETE ON cti_profile_statuses BEGIN
    INSERT INTO events (kind) VALUES ('profiles');
END;

CREATE TRIGGER status_messages_log_insert AFTER INSERT ON status_messages BEGIN
    INSERT INTO events (kind) VALUES ('catalog');
END;

CREATE TRIGGER status_messages_log_update AFTER UPDATE ON status_messages BEGIN
    INSERT INTO events (kind) VALUES ('catalog');
END;

CREATE TRIGGER status_messages_log_delete AFTER DELETE ON status_messages BEGIN
    INSERT INTO events (kind) VALUES ('catalog');
END;
