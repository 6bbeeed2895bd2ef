-- Several ctid instances on one database: a numbered log of every change that instances must
-- react to (in commit order), and the presence sessions every instance serves.

-- Taken by every transaction that appends to the log, until it commits: sequence numbers are
-- then handed out in commit order, so an instance that has applied event N has seen every
-- change committed before it.
CREATE FUNCTION ctid_log_lock() RETURNS void LANGUAGE sql AS $$
    SELECT pg_advisory_xact_lock(7453298611)
$$;

CREATE TABLE events (
    seq BIGINT PRIMARY KEY,
    kind TEXT NOT NULL,
    user_id BIGINT,
    payload TEXT,
    at TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE SEQUENCE events_seq OWNED BY events.seq;

CREATE INDEX events_at ON events (at);

-- Appends one event and wakes the instances (NOTIFY is delivered at commit).
CREATE FUNCTION ctid_append_event(p_kind TEXT, p_user_id BIGINT, p_payload TEXT) RETURNS BIGINT
LANGUAGE plpgsql AS $$
DECLARE
    next_seq BIGINT;
BEGIN
    PERFORM ctid_log_lock();
    next_seq := nextval('events_seq');
    INSERT INTO events (seq, kind, user_id, payload) VALUES (next_seq, p_kind, p_user_id, p_payload);
    -- One notification per transaction: equal payloads are collapsed at commit.
    PERFORM pg_notify('ctid_events', '');
    RETURN next_seq;
END
$$;

-- Data changes are logged by triggers, so that no write path can forget them.
CREATE FUNCTION ctid_log_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM ctid_append_event('user_deleted', OLD.id, NULL);
    ELSIF TG_OP = 'INSERT' THEN
        PERFORM ctid_append_event('user', NEW.id, NULL);
    ELSIF NEW.cti_profile_id IS NULL AND OLD.cti_profile_id IS NOT NULL THEN
        -- Without a profile, the user's sessions are over.
        DELETE FROM sessions WHERE user_id = NEW.id;
        PERFORM ctid_append_event('profile_removed', NEW.id, NULL);
    ELSIF NEW.cti_profile_id IS DISTINCT FROM OLD.cti_profile_id THEN
        PERFORM ctid_append_event('rights', NEW.id, NULL);
    ELSE
        PERFORM ctid_append_event('user', NEW.id, NULL);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_log AFTER INSERT OR UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION ctid_log_user();

-- A status change carries the status as committed (every instance publishes exactly that)
-- and what caused it (session and request id), set by the writer with
-- set_config('ctid.cause', …, true).
CREATE FUNCTION ctid_log_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM ctid_append_event('status', NEW.user_id, json_build_object(
        'status', row_to_json(NEW),
        'cause', NULLIF(current_setting('ctid.cause', true), '')::json
    )::text);
    RETURN NULL;
END
$$;

CREATE TRIGGER user_statuses_log AFTER INSERT OR UPDATE ON user_statuses
    FOR EACH ROW EXECUTE FUNCTION ctid_log_status();

-- Profiles and the catalog: one event (kind TG_ARGV[0]) per transaction, however many
-- statements it runs.
CREATE FUNCTION ctid_log_once() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    flag TEXT := 'ctid.logged_' || TG_ARGV[0];
BEGIN
    IF current_setting(flag, true) IS DISTINCT FROM 'yes' THEN
        PERFORM set_config(flag, 'yes', true);
        PERFORM ctid_append_event(TG_ARGV[0], NULL, NULL);
    END IF;
    RETURN NULL;
END
$$;

-- A new profile concerns nobody yet; an edit replaces its allowed statuses (delete, insert).
CREATE TRIGGER cti_profiles_log AFTER UPDATE OR DELETE ON cti_profiles
    FOR EACH STATEMENT EXECUTE FUNCTION ctid_log_once('profiles');
CREATE TRIGGER cti_profile_statuses_log AFTER UPDATE OR DELETE ON cti_profile_statuses
    FOR EACH STATEMENT EXECUTE FUNCTION ctid_log_once('profiles');

CREATE TRIGGER status_messages_log AFTER INSERT OR UPDATE OR DELETE ON status_messages
    FOR EACH STATEMENT EXECUTE FUNCTION ctid_log_once('catalog');

-- Open presence sessions. `drained` is the id of the last message handed to the client, by
-- whichever instance served it; `last_seen` the last activity any instance reported.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    record TEXT NOT NULL,
    drained BIGINT NOT NULL DEFAULT 0,
    last_seen TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE INDEX sessions_by_user ON sessions (user_id);
CREATE INDEX sessions_by_last_seen ON sessions (last_seen);
