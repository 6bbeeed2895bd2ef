//! `/icws/{sessionId}/connection/unique-auth-token`: a single-use token with which another
//! application logs in as the session's user.

use axum::extract::State;
use serde::Serialize;

use super::body::IcwsObject;
use super::error::{IcwsError, IcwsJson, ok};
use super::session::IcwsSession;
use crate::domain::auth_token::MAX_SEED_LEN;
use crate::http::AppState;

/// The body of a token request.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthTokenRequest {
    /// Any text the logging-in application will present with the token (at most 256 characters).
    #[schema(min_length = 1, max_length = 256)]
    pub auth_token_seed: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthTokenResponse {
    /// Valid once, for 7 seconds, with its seed, for the session's user.
    pub auth_token: String,
}

/// A single-use login token for the session's user.
#[utoipa::path(post, path = "/icws/{sessionId}/connection/unique-auth-token",
    operation_id = "icws_unique_auth_token", tag = "icws connection", security(("icws_session" = [])),
    params(("sessionId" = String, Path)),
    request_body(content = AuthTokenRequest, example = json!({"authTokenSeed": "desk-7001"})),
    responses((status = 200, body = AuthTokenResponse), (status = 400, body = super::error::IcwsErrorBody),
        (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn post(
    State(state): State<AppState>,
    IcwsSession(session): IcwsSession,
    body: IcwsObject,
) -> Result<IcwsJson<AuthTokenResponse>, IcwsError> {
    let seed = body.read::<AuthTokenRequest>()?.auth_token_seed;
    if seed.chars().count() > MAX_SEED_LEN {
        return Err(IcwsError::invalid(
            "authTokenSeed",
            format!("The property authTokenSeed has more than {MAX_SEED_LEN} characters."),
        ));
    }
    let auth_token = state.presence.issue_auth_token(&session, &seed).await?;
    Ok(ok(AuthTokenResponse { auth_token }))
}
