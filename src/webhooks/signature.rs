//! The Standard Webhooks signature: `v1,` and the base64 HMAC-SHA256 of `id.timestamp.body`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac as _};
use sha2::Sha256;

/// The key a secret signs with: the bytes after `whsec_` when the secret is written the way
/// Standard Webhooks libraries write theirs (`whsec_` and base64), else the secret's bytes.
fn key(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix("whsec_")
        .and_then(|encoded| STANDARD.decode(encoded).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// The `webhook-signature` header of `body` sent as message `id` at `timestamp` (Unix seconds).
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes a key of any length: this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&key(secret)) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1_614_265_330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_plain_secret_signs_with_its_bytes() {
        // As the recipes of docs/webhooks.md compute it.
        assert_eq!(sign("s3cret", "42", 1_700_000_000, b"{}"), "v1,DRIzV/qSfKCRNl9ueEDPf1VFVNRp9J3UtLUyfqhfvcI=");
        let signed = sign("s3cret", "42", 1_700_000_000, b"{}");
        assert!(signed.starts_with("v1,"));
        assert_ne!(signed, sign("s3cret", "43", 1_700_000_000, b"{}"));
    }
}
