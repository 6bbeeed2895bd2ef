//! Single-use login tokens: a session hands one to another application of the same user,
//! which logs in with it (and the seed it chose) within a few seconds.

/// How long a token may be used after it was made.
pub const TOKEN_LIFETIME_MS: i64 = 7_000;

/// Longest seed accepted.
pub const MAX_SEED_LEN: usize = 256;

/// A token as the store keeps it: hashes only, never the token or the seed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthToken {
    pub token_hash: String,
    pub seed_hash: String,
    pub user_id: i64,
    /// The session that asked for the token.
    pub source_session: String,
    /// Unix milliseconds after which the token is refused.
    pub expires_ms: i64,
}

impl AuthToken {
    /// Whether a login presenting this token with a seed of hash `seed_hash`, naming
    /// `source_session` (when it names one), is admitted at `now_ms`.
    pub fn admits(&self, seed_hash: &str, source_session: Option<&str>, now_ms: i64) -> bool {
        now_ms <= self.expires_ms
            && self.seed_hash == seed_hash
            && source_session.is_none_or(|source| source == self.source_session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> AuthToken {
        AuthToken {
            token_hash: "t".into(),
            seed_hash: "s".into(),
            user_id: 1,
            source_session: "42".into(),
            expires_ms: 1_000 + TOKEN_LIFETIME_MS,
        }
    }

    #[test]
    fn a_token_admits_its_seed_and_source_until_it_expires() {
        let token = token();
        assert!(token.admits("s", Some("42"), 1_000));
        assert!(token.admits("s", None, 8_000), "the last millisecond");
        assert!(!token.admits("s", Some("42"), 8_001), "expired");
        assert!(!token.admits("other", Some("42"), 1_000), "another seed");
        assert!(!token.admits("s", Some("43"), 1_000), "another source session");
    }
}
