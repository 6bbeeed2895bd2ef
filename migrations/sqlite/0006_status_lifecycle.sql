-- The status lifecycle: a status may name the status its holders return to when their `until`
-- passes, and statuses may be scheduled ahead. Transitions are found by time through the
-- indexes below, never held in memory.

ALTER TABLE status_messages ADD COLUMN return_status_id TEXT;

CREATE INDEX user_statuses_by_until ON user_statuses (until_at) WHERE until_at IS NOT NULL;

-- Times are Unix seconds. `before_*` is what the start replaced, restored at the end if the
-- user still holds what the start set (`applied_until` is the until it set).
CREATE TABLE scheduled_statuses (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    status_id TEXT NOT NULL,
    notes TEXT,
    forward_number TEXT,
    start_at INTEGER NOT NULL,
    end_at INTEGER,
    state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'active', 'done')),
    before_status_id TEXT,
    before_notes TEXT,
    before_forward_number TEXT,
    before_until_at INTEGER,
    before_has_date INTEGER NOT NULL DEFAULT 0,
    before_has_time INTEGER NOT NULL DEFAULT 0,
    applied_until_at INTEGER
);

CREATE INDEX scheduled_statuses_by_user ON scheduled_statuses (user_id, start_at);
CREATE INDEX scheduled_statuses_starts ON scheduled_statuses (start_at) WHERE state = 'pending';
CREATE INDEX scheduled_statuses_ends ON scheduled_statuses (end_at) WHERE state = 'active';
CREATE INDEX scheduled_statuses_by_status ON scheduled_statuses (status_id);
