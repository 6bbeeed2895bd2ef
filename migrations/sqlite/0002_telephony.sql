-- Telephony: SIP lines (each belongs to at most one user) and the calls a PBX reports on them.

CREATE TABLE lines (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL CONSTRAINT lines_name_unique UNIQUE,
    protocol TEXT NOT NULL,
    context TEXT NOT NULL,
    number TEXT,
    user_id INTEGER CONSTRAINT lines_user_fk REFERENCES users (id) ON DELETE SET NULL
);

CREATE INDEX lines_user ON lines (user_id);

-- One row per call and line: the last applied report. Ended calls stay as `idle` until they
-- are purged, so that a late report for them is recognised and ignored.
CREATE TABLE calls (
    line_id INTEGER NOT NULL CONSTRAINT calls_line_fk REFERENCES lines (id) ON DELETE CASCADE,
    call_id TEXT NOT NULL,
    state TEXT NOT NULL CONSTRAINT calls_state_check CHECK (state IN ('ringing', 'talking', 'held', 'idle')),
    at_ms INTEGER NOT NULL,
    since_ms INTEGER NOT NULL,
    -- When ctid applied the last report (its own clock: the PBX's may be off).
    seen_ms INTEGER NOT NULL,
    PRIMARY KEY (line_id, call_id)
);

CREATE INDEX calls_by_state ON calls (state, seen_ms);
