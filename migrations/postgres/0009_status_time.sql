-- Time in status, rolled up per UTC day: for each whole day a compactor has rolled up
-- (`status_time_rolled`), the milliseconds each user spent in each status (`kind` 'status')
-- and on the phone (`kind` 'phone', `status_id` ''). `day` counts days since 1970-01-01 UTC.
-- Read by the time-in-status report with the raw history for the days not rolled up: in key
-- order, summed per user and status over the days of a window (no index by day, which would
-- read the rows out of that order).

CREATE TABLE status_time_days (
    user_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    status_id TEXT NOT NULL,
    day BIGINT NOT NULL,
    ms BIGINT NOT NULL,
    CONSTRAINT status_time_days_pkey PRIMARY KEY (user_id, kind, status_id, day)
);

CREATE TABLE status_time_rolled (
    day BIGINT NOT NULL CONSTRAINT status_time_rolled_pkey PRIMARY KEY,
    rolled_at BIGINT NOT NULL
);
