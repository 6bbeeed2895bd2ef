-- Call times in microseconds, not milliseconds: reports a fraction of a millisecond apart keep
-- their order. Existing calls keep their times, scaled.

ALTER TABLE calls RENAME COLUMN at_ms TO at_us;
ALTER TABLE calls RENAME COLUMN since_ms TO since_us;
ALTER TABLE calls RENAME COLUMN seen_ms TO seen_us;

UPDATE calls SET at_us = at_us * 1000, since_us = since_us * 1000, seen_us = seen_us * 1000;
