//! Web-service users: the credentials of the configuration API.

/// The Digest realm of the configuration API, as XiVO used it.
pub const REALM: &str = "XivoRealm";

/// A stored web-service account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebserviceUser {
    pub username: String,
    /// argon2 PHC string, checked for Basic authentication.
    pub password_hash: String,
    /// `MD5(username:XivoRealm:password)` in hex: what Digest authentication needs.
    pub digest_ha1: String,
}

/// Web-service usernames: printable ASCII without `:` (it separates Basic credentials).
pub fn valid_username(name: &str) -> bool {
    !name.is_empty() && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_graphic() && b != b':' && b != b'"')
}
