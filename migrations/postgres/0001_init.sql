-- The PostgreSQL schema of ctid: migrations/sqlite/0001_init.sql and 0002_telephony.sql in one,
-- with the same tables, columns and constraint names (src/store/postgres.rs maps constraint
-- violations by name). Flags are BOOLEAN, ids and times BIGINT.
--
-- Text: PostgreSQL cannot store U+0000, which ctid accepts (and SQLite stores), so the store
-- writes U+0000 as U+0001 U+0001 and U+0001 as U+0001 U+0002 (any other text is stored as it
-- is). The escape keeps equality and byte order, so uniqueness and ORDER BY ... COLLATE "C"
-- behave as on the original text.

-- Configuration data of ctid: CTI profiles, status catalog, users, web-service accounts.

CREATE TABLE meta (
    key TEXT NOT NULL CONSTRAINT meta_pkey PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE cti_profiles (
    id BIGSERIAL CONSTRAINT cti_profiles_pkey PRIMARY KEY,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL CONSTRAINT cti_profiles_name_key UNIQUE,
    view_statuses TEXT NOT NULL CONSTRAINT cti_profiles_view_statuses_check CHECK (view_statuses IN ('all', 'self')),
    change_statuses TEXT NOT NULL
        CONSTRAINT cti_profiles_change_statuses_check CHECK (change_statuses IN ('all', 'self')),
    all_statuses BOOLEAN NOT NULL
);

CREATE TABLE status_messages (
    status_key TEXT NOT NULL CONSTRAINT status_messages_pkey PRIMARY KEY,
    status_id TEXT NOT NULL,
    position BIGINT NOT NULL,
    message_text TEXT NOT NULL,
    icon_uri TEXT NOT NULL,
    group_tag TEXT NOT NULL,
    can_have_date BOOLEAN NOT NULL,
    can_have_time BOOLEAN NOT NULL,
    can_have_forward_number BOOLEAN NOT NULL,
    is_do_not_disturb_status BOOLEAN NOT NULL,
    is_selectable_status BOOLEAN NOT NULL,
    is_persistent_status BOOLEAN NOT NULL,
    is_forward_status BOOLEAN NOT NULL,
    is_after_call_work_status BOOLEAN NOT NULL,
    is_acd_status BOOLEAN NOT NULL,
    is_allow_follow_up_status BOOLEAN NOT NULL,
    system_id TEXT NOT NULL,
    built_in BOOLEAN NOT NULL
);

CREATE TABLE cti_profile_statuses (
    cti_profile_id BIGINT NOT NULL
        CONSTRAINT cti_profile_statuses_profile_fk REFERENCES cti_profiles (id) ON DELETE CASCADE,
    status_key TEXT NOT NULL
        CONSTRAINT cti_profile_statuses_status_fk REFERENCES status_messages (status_key) ON DELETE CASCADE,
    CONSTRAINT cti_profile_statuses_pkey PRIMARY KEY (cti_profile_id, status_key)
);

-- Deleting a status removes it from the profiles (SQLite scans; PostgreSQL needs the index).
CREATE INDEX cti_profile_statuses_status_idx ON cti_profile_statuses (status_key);

CREATE TABLE users (
    id BIGSERIAL CONSTRAINT users_pkey PRIMARY KEY,
    firstname TEXT NOT NULL,
    lastname TEXT NOT NULL,
    caller_id TEXT NOT NULL,
    outgoing_caller_id TEXT,
    username TEXT,
    username_key TEXT CONSTRAINT users_username_key UNIQUE,
    password_hash TEXT,
    music_on_hold TEXT,
    mobile_phone_number TEXT,
    userfield TEXT,
    timezone TEXT,
    language TEXT,
    description TEXT,
    preprocess_subroutine TEXT,
    cti_profile_id BIGINT CONSTRAINT users_cti_profile_fk REFERENCES cti_profiles (id),
    created_at BIGINT NOT NULL
);

CREATE INDEX users_cti_profile_idx ON users (cti_profile_id);

CREATE TABLE webservice_users (
    username TEXT NOT NULL CONSTRAINT webservice_users_pkey PRIMARY KEY,
    password_hash TEXT NOT NULL,
    digest_ha1 TEXT NOT NULL
);

-- Presence: one row per user, created with the user. Times are Unix seconds (UTC).
CREATE TABLE user_statuses (
    user_id BIGINT NOT NULL CONSTRAINT user_statuses_pkey PRIMARY KEY
        CONSTRAINT user_statuses_user_fk REFERENCES users (id) ON DELETE CASCADE,
    status_id TEXT NOT NULL,
    notes TEXT,
    forward_number TEXT,
    until_at BIGINT,
    has_date BOOLEAN NOT NULL DEFAULT FALSE,
    has_time BOOLEAN NOT NULL DEFAULT FALSE,
    status_changed BIGINT NOT NULL,
    on_phone BOOLEAN NOT NULL DEFAULT FALSE,
    on_phone_changed BIGINT NOT NULL
);

-- Telephony: SIP lines (each belongs to at most one user) and the calls a PBX reports on them.

CREATE TABLE lines (
    id BIGSERIAL CONSTRAINT lines_pkey PRIMARY KEY,
    name TEXT NOT NULL CONSTRAINT lines_name_unique UNIQUE,
    protocol TEXT NOT NULL,
    context TEXT NOT NULL,
    number TEXT,
    user_id BIGINT CONSTRAINT lines_user_fk REFERENCES users (id) ON DELETE SET NULL
);

CREATE INDEX lines_user ON lines (user_id);

-- One row per call and line: the last applied report. Ended calls stay as `idle` until they
-- are purged, so that a late report for them is recognised and ignored.
CREATE TABLE calls (
    line_id BIGINT NOT NULL CONSTRAINT calls_line_fk REFERENCES lines (id) ON DELETE CASCADE,
    call_id TEXT NOT NULL,
    state TEXT NOT NULL CONSTRAINT calls_state_check CHECK (state IN ('ringing', 'talking', 'held', 'idle')),
    at_ms BIGINT NOT NULL,
    since_ms BIGINT NOT NULL,
    -- When ctid applied the last report (its own clock: the PBX's may be off).
    seen_ms BIGINT NOT NULL,
    CONSTRAINT calls_pkey PRIMARY KEY (line_id, call_id)
);

CREATE INDEX calls_by_state ON calls (state, seen_ms);
