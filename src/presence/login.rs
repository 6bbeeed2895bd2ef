//! Opening and ending sessions: password and single-use token logins, logout.

use std::net::IpAddr;
use std::sync::Arc;

use super::engine::{Presence, PresenceError, PresenceResult, display_name};
use super::sessions::{NewSession, Session};
use crate::auth::password;
use crate::auth::random::sha256_hex;
use crate::domain::auth_token::{AuthToken, MAX_SEED_LEN, TOKEN_LIFETIME_MS};
use crate::domain::clock::now_ms;
use crate::domain::cti_profile::Scope;
use crate::domain::user::{User, username_key};
use crate::store::StoreError;
use crate::store::events::SessionWrite;

/// A login with a single-use token.
#[derive(Debug, Clone, Copy)]
pub struct TokenLogin<'a> {
    pub token: &'a str,
    pub seed: &'a str,
    /// The session that asked for the token, when the client names it.
    pub source_session: Option<&'a str>,
    pub disconnect_source: bool,
    pub application_name: &'a str,
}

/// A session just opened, with the credentials its client is given (the store keeps hashes).
pub struct Opened {
    pub session: Arc<Session>,
    pub cookie: String,
    pub csrf_token: String,
}

/// Longest user name or password a login may carry.
const MAX_CREDENTIAL_LEN: usize = 256;

impl Presence {
    /// Opens a session for a user with a CTI profile and a password.
    pub async fn login(
        &self,
        username: &str,
        password_text: &str,
        application_name: &str,
        address: Option<IpAddr>,
    ) -> PresenceResult<Opened> {
        let key = username_key(username);
        self.throttle.check(&key, address).map_err(PresenceError::Throttled)?;
        if username.len() > MAX_CREDENTIAL_LEN || password_text.len() > MAX_CREDENTIAL_LEN {
            self.throttle.record_failure(&key, address);
            return Err(PresenceError::AuthenticationFailed);
        }
        let candidate = match self.store.find_user_login(username).await {
            Ok((user, Some(hash))) if user.cti_profile_id.is_some() => Some((user, hash)),
            Ok(_) | Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        };
        let hash = candidate.as_ref().map_or_else(|| self.decoy_hash.clone(), |(_, h)| h.clone());
        let matches = password::verify_blocking(hash, password_text.to_string()).await;
        let Some((user, _)) = candidate.filter(|_| matches) else {
            self.throttle.record_failure(&key, address);
            return Err(PresenceError::AuthenticationFailed);
        };
        self.throttle.record_success(&key);
        self.open_session(user, application_name).await
    }

    /// Opens a session for `user`, who has just proved who they are.
    pub(super) async fn open_session(&self, user: User, application_name: &str) -> PresenceResult<Opened> {
        let view_all = match user.cti_profile_id {
            Some(id) => self.store.get_cti_profile(id).await.is_ok_and(|p| p.fields.view_statuses == Scope::All),
            None => false,
        };
        let (record, secrets) = self
            .sessions
            .prepare(NewSession {
                user_id: user.id,
                display_name: display_name(&user),
                username: user.fields.username.clone().unwrap_or_default(),
                application_name: application_name.to_string(),
                view_all,
            })
            .map_err(PresenceError::SessionLimit)?;
        let seq = self.log.write_session(SessionWrite::Open(&record)).await?;
        self.wait_applied(seq).await?;
        let session = self.sessions.get(&record.id).ok_or(PresenceError::SessionEnded)?;
        Ok(Opened { session, cookie: secrets.cookie, csrf_token: secrets.csrf_token })
    }

    /// A single-use token with which another application logs in as the session's user within
    /// a few seconds, presenting the same `seed`.
    pub async fn issue_auth_token(&self, session: &Session, seed: &str) -> PresenceResult<String> {
        self.actor_profile(session).await?;
        let token = crate::auth::random::hex_token(32);
        let now_ms = now_ms();
        let record = AuthToken {
            token_hash: sha256_hex(&token),
            seed_hash: sha256_hex(seed),
            user_id: session.user_id,
            source_session: session.id.clone(),
            expires_ms: now_ms + TOKEN_LIFETIME_MS,
        };
        self.store.add_auth_token(&record, now_ms).await?;
        Ok(token)
    }

    /// Opens a session with a token from [`Presence::issue_auth_token`]: once, within its
    /// lifetime, with its seed and (when named) its source session, for a user who still has a
    /// CTI profile. `disconnect_source` ends the session that asked for the token.
    pub async fn login_with_token(&self, login: TokenLogin<'_>, address: Option<IpAddr>) -> PresenceResult<Opened> {
        let key = format!("auth-token:{}", login.source_session.unwrap_or_default());
        self.throttle.check(&key, address).map_err(PresenceError::Throttled)?;
        let fail = || {
            self.throttle.record_failure(&key, address);
            PresenceError::AuthenticationFailed
        };
        if login.token.len() > MAX_CREDENTIAL_LEN || login.seed.len() > MAX_SEED_LEN {
            return Err(fail());
        }
        let Some(token) = self.store.take_auth_token(&sha256_hex(login.token)).await? else {
            return Err(fail());
        };
        if !token.admits(&sha256_hex(login.seed), login.source_session, now_ms()) {
            return Err(fail());
        }
        let user = match self.store.get_user(token.user_id).await {
            Ok(user) if user.cti_profile_id.is_some() => user,
            Ok(_) | Err(StoreError::NotFound) => return Err(fail()),
            Err(other) => return Err(other.into()),
        };
        self.throttle.record_success(&key);
        let opened = self.open_session(user, login.application_name).await?;
        if login.disconnect_source
            && let Some(source) = self.sessions.get(&token.source_session)
        {
            self.logout(&source).await?;
        }
        Ok(opened)
    }

    /// The client logs out.
    pub async fn logout(&self, session: &Session) -> PresenceResult<()> {
        let seq = self.log.write_session(SessionWrite::End { id: &session.id, reason: None }).await?;
        self.wait_applied(seq).await
    }
}
