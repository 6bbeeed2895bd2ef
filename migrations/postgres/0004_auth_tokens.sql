-- Single-use presence login tokens (`POST /icws/{sessionId}/connection/unique-auth-token`),
-- kept by the SHA-256 of the token and of its seed, never in clear. A token is deleted when it
-- is used; expired ones are deleted when the next one is made.
CREATE TABLE auth_tokens (
    token_hash TEXT PRIMARY KEY,
    seed_hash TEXT NOT NULL,
    user_id BIGINT NOT NULL CONSTRAINT auth_tokens_user_fk REFERENCES users (id) ON DELETE CASCADE,
    source_session TEXT NOT NULL,
    expires_ms BIGINT NOT NULL
);

CREATE INDEX auth_tokens_by_expiry ON auth_tokens (expires_ms);
