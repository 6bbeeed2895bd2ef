-- ICWS previous info: for each status a user has held, the notes and forward number they last
-- had with it. Kept by triggers on user_statuses, so that no write path can forget it; a
-- write that changes none of the three columns (an on-phone flip) writes nothing here.

CREATE TABLE user_status_previous (
    user_id BIGINT NOT NULL
        CONSTRAINT user_status_previous_user_fk REFERENCES users (id) ON DELETE CASCADE,
    status_id TEXT NOT NULL,
    notes TEXT,
    forward_number TEXT,
    CONSTRAINT user_status_previous_pkey PRIMARY KEY (user_id, status_id)
);

INSERT INTO user_status_previous (user_id, status_id, notes, forward_number)
    SELECT user_id, status_id, notes, forward_number FROM user_statuses;

CREATE FUNCTION ctid_keep_previous_info() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO user_status_previous (user_id, status_id, notes, forward_number)
        VALUES (NEW.user_id, NEW.status_id, NEW.notes, NEW.forward_number)
        ON CONFLICT (user_id, status_id)
        DO UPDATE SET notes = excluded.notes, forward_number = excluded.forward_number;
    RETURN NULL;
END
$$;

CREATE TRIGGER user_statuses_previous_insert AFTER INSERT ON user_statuses
    FOR EACH ROW EXECUTE FUNCTION ctid_keep_previous_info();

CREATE TRIGGER user_statuses_previous_update AFTER UPDATE OF status_id, notes, forward_number ON user_statuses
    FOR EACH ROW WHEN (NEW.status_id IS DISTINCT FROM OLD.status_id OR NEW.notes IS DISTINCT FROM OLD.notes
        OR NEW.forward_number IS DISTINCT FROM OLD.forward_number)
    EXECUTE FUNCTION ctid_keep_previous_info();
