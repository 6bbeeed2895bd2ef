//! Authentication of configuration API clients against web-service accounts:
//! HTTP Digest (what XiVO clients send) and Basic.
//!
//! Requests stay cheap: Digest needs only the stored HA1; a Basic password is checked
//! against its argon2 hash once, then remembered as a keyed SHA-256 for as long as the
//! account is unchanged.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use super::digest::{self, DigestFailure, DigestParams, NonceRegistry};
use super::throttle::FailureThrottle;
use super::{password, random};
use crate::domain::webservice_user::{REALM, WebserviceUser};
use crate::store::{Store, StoreError};

/// How long an account read from the store is trusted before it is read again.
const ACCOUNT_TTL: Duration = Duration::from_secs(2);
const MAX_CACHED: usize = 10_000;

/// Why a request was not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthFailure {
    /// No or bad credentials.
    Denied { stale: bool },
    /// Too many failures for this account or from this address: retry after this long.
    Throttled(Duration),
    /// The account could not be read.
    Unavailable,
}

pub struct WebserviceAuth {
    store: Arc<dyn Store>,
    nonces: NonceRegistry,
    cache_key: String,
    accounts: Mutex<HashMap<String, (Instant, Option<WebserviceUser>)>>,
    verified_basic: Mutex<HashSet<[u8; 32]>>,
    flights: Mutex<HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>>,
    throttle: FailureThrottle,
    /// Checked when a Basic user is unknown, so an unknown name costs what a wrong password does.
    decoy_hash: String,
}

impl WebserviceAuth {
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            nonces: NonceRegistry::default(),
            cache_key: random::hex_token(32),
            accounts: Mutex::default(),
            verified_basic: Mutex::default(),
            flights: Mutex::default(),
            throttle: FailureThrottle::default(),
            decoy_hash: password::hash(&random::hex_token(16)),
        }
    }

    /// The `WWW-Authenticate` value of a 401 answer.
    pub fn challenge(&self, stale: bool) -> String {
        let nonce = self.nonces.issue();
        let stale = if stale { ", stale=true" } else { "" };
        format!("Digest realm=\"{REALM}\", nonce=\"{nonce}\", qop=\"auth\", algorithm=MD5{stale}")
    }

    /// Authenticates a request from its method, target (path and query), `Authorization`
    /// header and client address. Failed credentials count against the account named and the
    /// address; while either is throttled, even good credentials are refused.
    pub async fn authenticate(
        &self,
        method: &str,
        target: &str,
        authorization: Option<&str>,
        address: Option<IpAddr>,
    ) -> Result<String, AuthFailure> {
        // No credentials at all is the first step of every Digest exchange, not a failure.
        let header = authorization.ok_or(AuthFailure::Denied { stale: false })?;
        let credentials = Credentials::parse(header);
        let account = credentials.as_ref().map_or("", Credentials::username).to_string();
        self.throttle.check(&account, address).map_err(AuthFailure::Throttled)?;
        let verdict = match credentials {
            Some(credentials) => self.verify(method, target, credentials).await,
            None => Err(AuthFailure::Denied { stale: false }),
        };
        match verdict {
            Ok(username) => {
                self.throttle.record_success(&account);
                Ok(username)
            }
            Err(AuthFailure::Denied { stale: false }) => {
                self.throttle.record_failure(&account, address);
                Err(AuthFailure::Denied { stale: false })
            }
            Err(other) => Err(other),
        }
    }

    async fn verify(&self, method: &str, target: &str, credentials: Credentials) -> Result<String, AuthFailure> {
        match credentials {
            Credentials::Digest(params) => self.verify_digest(method, target, &params).await,
            Credentials::Basic { username, password } => self.verify_basic(&username, &password).await,
        }
    }

    async fn verify_basic(&self, username: &str, password: &str) -> Result<String, AuthFailure> {
        let denied = AuthFailure::Denied { stale: false };
        let Some(account) = self.account(username).await? else {
            password::verify_blocking(self.decoy_hash.clone(), password.to_string()).await;
            return Err(denied);
        };
        let fingerprint = self.fingerprint(&account.password_hash, password);
        if self.lock_verified().contains(&fingerprint) {
            return Ok(account.username);
        }
        // One verification per credential at a time: a burst of clients sharing an account
        // waits for the first check instead of each running argon2.
        let flight = self.in_flight(fingerprint);
        let _turn = flight.lock().await;
        if self.lock_verified().contains(&fingerprint) {
            return Ok(account.username);
        }
        let valid = password::verify_blocking(account.password_hash.clone(), password.to_string()).await;
        self.lock_flights().remove(&fingerprint);
        if !valid {
            return Err(denied);
        }
        let mut verified = self.lock_verified();
        if verified.len() >= MAX_CACHED {
            verified.clear();
        }
        verified.insert(fingerprint);
        Ok(account.username)
    }

    async fn verify_digest(&self, method: &str, target: &str, params: &DigestParams) -> Result<String, AuthFailure> {
        let denied = AuthFailure::Denied { stale: false };
        let account = self.account(&params.username).await?.ok_or(denied)?;
        match self.nonces.verify(params, REALM, method, target, &account.digest_ha1) {
            Ok(()) => Ok(account.username),
            Err(DigestFailure::Stale) => Err(AuthFailure::Denied { stale: true }),
            Err(DigestFailure::Invalid) => Err(denied),
        }
    }

    fn lock_flights(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Arc<tokio::sync::Mutex<()>>>> {
        self.flights.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn in_flight(&self, fingerprint: [u8; 32]) -> Arc<tokio::sync::Mutex<()>> {
        self.lock_flights().entry(fingerprint).or_default().clone()
    }

    fn lock_verified(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        self.verified_basic.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn fingerprint(&self, phc: &str, password: &str) -> [u8; 32] {
        let mut hasher = Sha256::new();
        for part in [self.cache_key.as_str(), phc, password] {
            hasher.update((part.len() as u64).to_be_bytes());
            hasher.update(part.as_bytes());
        }
        hasher.finalize().into()
    }

    async fn account(&self, username: &str) -> Result<Option<WebserviceUser>, AuthFailure> {
        {
            let accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((read, account)) = accounts.get(username)
                && read.elapsed() < ACCOUNT_TTL
            {
                return Ok(account.clone());
            }
        }
        let account = match self.store.get_webservice_user(username).await {
            Ok(account) => Some(account),
            Err(StoreError::NotFound) => None,
            Err(err) => {
                tracing::error!(error = %err, "reading a web-service account failed");
                return Err(AuthFailure::Unavailable);
            }
        };
        let mut accounts = self.accounts.lock().unwrap_or_else(|e| e.into_inner());
        if accounts.len() >= MAX_CACHED {
            accounts.clear();
        }
        accounts.insert(username.to_string(), (Instant::now(), account.clone()));
        Ok(account)
    }
}

/// The user name and password of `Authorization: Basic …` (the part after the scheme).
pub fn decode_basic(credentials: &str) -> Option<(String, String)> {
    let decoded = base64::engine::general_purpose::STANDARD.decode(credentials.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (username, password) = text.split_once(':')?;
    Some((username.to_string(), password.to_string()))
}

/// What an `Authorization` header carries, parsed once for throttling and verification.
enum Credentials {
    Digest(DigestParams),
    Basic { username: String, password: String },
}

impl Credentials {
    fn parse(header: &str) -> Option<Self> {
        let (scheme, rest) = header.trim().split_once(' ')?;
        if scheme.eq_ignore_ascii_case("digest") {
            return digest::parse(rest).map(Self::Digest);
        }
        if scheme.eq_ignore_ascii_case("basic") {
            return decode_basic(rest).map(|(username, password)| Self::Basic { username, password });
        }
        None
    }

    /// The account named, for throttling.
    fn username(&self) -> &str {
        match self {
            Self::Digest(params) => &params.username,
            Self::Basic { username, .. } => username,
        }
    }
}

/// Builds a web-service account (argon2 hash and Digest HA1) for `username`.
pub fn new_account(username: &str, password: &str) -> WebserviceUser {
    WebserviceUser {
        username: username.to_string(),
        password_hash: password::hash(password),
        digest_ha1: digest::ha1(username, REALM, password),
    }
}
