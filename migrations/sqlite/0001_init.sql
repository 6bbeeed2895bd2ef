-- Configuration data of ctid: CTI profiles, status catalog, users, web-service accounts.

CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE cti_profiles (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    name_key TEXT NOT NULL CONSTRAINT cti_profiles_name_key UNIQUE,
    view_statuses TEXT NOT NULL CHECK (view_statuses IN ('all', 'self')),
    change_statuses TEXT NOT NULL CHECK (change_statuses IN ('all', 'self')),
    all_statuses INTEGER NOT NULL CHECK (all_statuses IN (0, 1))
);

CREATE TABLE status_messages (
    status_key TEXT PRIMARY KEY NOT NULL,
    status_id TEXT NOT NULL,
    position INTEGER NOT NULL,
    message_text TEXT NOT NULL,
    icon_uri TEXT NOT NULL,
    group_tag TEXT NOT NULL,
    can_have_date INTEGER NOT NULL,
    can_have_time INTEGER NOT NULL,
    can_have_forward_number INTEGER NOT NULL,
    is_do_not_disturb_status INTEGER NOT NULL,
    is_selectable_status INTEGER NOT NULL,
    is_persistent_status INTEGER NOT NULL,
    is_forward_status INTEGER NOT NULL,
    is_after_call_work_status INTEGER NOT NULL,
    is_acd_status INTEGER NOT NULL,
    is_allow_follow_up_status INTEGER NOT NULL,
    system_id TEXT NOT NULL,
    built_in INTEGER NOT NULL
);

CREATE TABLE cti_profile_statuses (
    cti_profile_id INTEGER NOT NULL REFERENCES cti_profiles (id) ON DELETE CASCADE,
    status_key TEXT NOT NULL REFERENCES status_messages (status_key) ON DELETE CASCADE,
    PRIMARY KEY (cti_profile_id, status_key)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
    cti_profile_id INTEGER CONSTRAINT users_cti_profile_fk REFERENCES cti_profiles (id),
    created_at INTEGER NOT NULL
);

CREATE INDEX users_cti_profile_idx ON users (cti_profile_id);

CREATE TABLE webservice_users (
    username TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    digest_ha1 TEXT NOT NULL
);

-- Presence: one row per user, created with the user. Times are Unix seconds (UTC).
CREATE TABLE user_statuses (
    user_id INTEGER PRIMARY KEY NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status_id TEXT NOT NULL,
    notes TEXT,
    forward_number TEXT,
    until_at INTEGER,
    has_date INTEGER NOT NULL DEFAULT 0,
    has_time INTEGER NOT NULL DEFAULT 0,
    status_changed INTEGER NOT NULL,
    on_phone INTEGER NOT NULL DEFAULT 0,
    on_phone_changed INTEGER NOT NULL
);
