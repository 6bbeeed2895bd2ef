-- Status changes are appended to the log by the writer itself, with the request that caused
-- them, in the transaction that commits them (as on SQLite): the trigger goes.
DROP TRIGGER user_statuses_log ON user_statuses;
DROP FUNCTION ctid_log_status();

-- Session cookies and CSRF tokens are kept only as SHA-256 hashes, in the session rows and in
-- the log.
CREATE FUNCTION ctid_hash_credentials(record TEXT) RETURNS TEXT LANGUAGE sql IMMUTABLE AS $$
    SELECT (j - 'cookie' - 'csrf_token' || jsonb_build_object(
        'cookie_hash', encode(sha256(convert_to(coalesce(j->>'cookie', ''), 'UTF8')), 'hex'),
        'csrf_hash', encode(sha256(convert_to(coalesce(j->>'csrf_token', ''), 'UTF8')), 'hex')
    ))::text
    FROM (SELECT record::jsonb AS j) AS r
$$;

UPDATE sessions SET record = ctid_hash_credentials(record) WHERE record::jsonb ? 'cookie';
UPDATE events SET payload = ctid_hash_credentials(payload)
    WHERE kind = 'session_opened' AND payload IS NOT NULL AND payload::jsonb ? 'cookie';

DROP FUNCTION ctid_hash_credentials(TEXT);
