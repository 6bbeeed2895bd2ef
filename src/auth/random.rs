//! Random tokens from the operating system's CSPRNG, and the hashes they are kept as.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use sha2::{Digest as _, Sha256};

/// `bytes` random bytes as lowercase hex.
pub fn hex_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// The SHA-256 of `text` as lowercase hex: how a token is kept (it is random and long, so a
/// fast hash is enough).
pub fn sha256_hex(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A password for generated accounts: 24 characters from an unambiguous alphabet.
pub fn password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut buf = [0u8; 24];
    OsRng.fill_bytes(&mut buf);
    buf.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}
