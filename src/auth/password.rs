//! argon2id password hashes. Both functions are CPU-bound: call them off the async workers.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use std::sync::OnceLock;
use tokio::sync::Semaphore;

/// Hashes `password` into a PHC string.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).unwrap_or_default()
}

/// Checks `password` against a PHC string; a malformed hash never matches.
pub fn verify(phc: &str, password: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
}

/// At most one hash per core at a time: each takes ~19 MiB and a core for tens of
/// milliseconds, so a login storm queues here instead of exhausting memory and the workers.
fn hashing_permits() -> &'static Semaphore {
    static PERMITS: OnceLock<Semaphore> = OnceLock::new();
    PERMITS.get_or_init(|| Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from)))
}

/// Runs [`hash`] on the blocking pool.
pub async fn hash_blocking(password: String) -> String {
    let Ok(_permit) = hashing_permits().acquire().await else {
        return String::new();
    };
    tokio::task::spawn_blocking(move || hash(&password)).await.unwrap_or_default()
}

/// Runs [`verify`] on the blocking pool.
pub async fn verify_blocking(phc: String, password: String) -> bool {
    let Ok(_permit) = hashing_permits().acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || verify(&phc, &password)).await.unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_only_the_right_password() {
        let phc = hash("s3cret");
        assert!(phc.starts_with("$argon2id$"));
        assert!(verify(&phc, "s3cret"));
        assert!(!verify(&phc, "S3cret"));
        assert!(!verify("not a hash", "s3cret"));
    }
}
