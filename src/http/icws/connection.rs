//! `/icws/connection` and `/icws/{sessionId}/connection`: login, logout, server information.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::body::IcwsObject;
use super::error::{IcwsError, IcwsJson, ok};
use super::session::{CSRF_HEADER, IcwsSession};
use crate::app::now;
use crate::http::AppState;
use crate::http::base_url::Scheme;
use crate::http::client_ip::ClientIp;
use crate::presence::TokenLogin;
use crate::presence::dates;
use crate::presence::render::EffectiveStation;

const LOGIN_TYPE: &str = "urn:inin.com:connection:icAuthConnectionRequestSettings";
const TOKEN_LOGIN_TYPE: &str = "urn:inin.com:connection:authTokenConnectionRequestSettings";

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureInfo {
    pub feature_id: &'static str,
    pub version: u32,
}

const FEATURES: [FeatureInfo; 3] = [
    FeatureInfo { feature_id: "connection", version: 3 },
    FeatureInfo { feature_id: "messaging", version: 2 },
    FeatureInfo { feature_id: "status", version: 2 },
];

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FeatureList {
    pub feature_info_list: &'static [FeatureInfo],
}

/// Server version; every member is a string.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    pub major_version: &'static str,
    pub minor_version: &'static str,
    pub su: &'static str,
    pub product_id: &'static str,
    pub codebase_id: &'static str,
    pub build: &'static str,
    pub product_release_display_string: String,
    pub product_patch_display_string: &'static str,
}

fn version() -> Version {
    Version {
        major_version: env!("CARGO_PKG_VERSION_MAJOR"),
        minor_version: env!("CARGO_PKG_VERSION_MINOR"),
        su: env!("CARGO_PKG_VERSION_PATCH"),
        product_id: "ctid",
        codebase_id: "ctid",
        build: env!("CARGO_PKG_VERSION"),
        product_release_display_string: format!("ctid {}", env!("CARGO_PKG_VERSION")),
        product_patch_display_string: "",
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ServerTime {
    pub server_utc_time: String,
}

fn server_time() -> ServerTime {
    ServerTime { server_utc_time: dates::format(now()) }
}

/// The body of a successful login.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConnectionResponse {
    pub csrf_token: String,
    pub session_id: String,
    pub alternate_host_list: Vec<String>,
    #[serde(rename = "userID")]
    pub user_id: String,
    pub user_display_name: String,
    pub ic_server: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub features: Option<&'static [FeatureInfo]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_time_info: Option<ServerTime>,
    /// With `include=effective-station`, the station the session's interactions go to: absent
    /// while it has none (a new session has none until it logs in to a station).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effective_station: Option<EffectiveStation>,
}

/// The login request, by its `__type`: a password login (the default) or a token login.
/// Members of the other type are ignored.
#[derive(Debug, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ConnectionRequest {
    Password(PasswordConnectionRequest),
    Token(TokenConnectionRequest),
}

/// `urn:inin.com:connection:icAuthConnectionRequestSettings`: a user name and password login.
// Declared in the order the members are checked.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordConnectionRequest {
    /// May be left out: this is the default type.
    #[serde(rename = "__type")]
    #[schema(inline)]
    pub kind: Option<PasswordConnectionType>,
    #[serde(rename = "userID")]
    #[schema(min_length = 1)]
    pub user_id: String,
    #[schema(min_length = 1)]
    pub password: String,
    pub application_name: Option<String>,
}

/// `urn:inin.com:connection:authTokenConnectionRequestSettings`: a login with a token from
/// `POST /icws/{sessionId}/connection/unique-auth-token`.
// Declared in the order the members are checked.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenConnectionRequest {
    #[serde(rename = "__type")]
    #[schema(inline)]
    pub kind: TokenConnectionType,
    #[schema(min_length = 1)]
    pub auth_token: String,
    /// The seed the token was asked with.
    #[schema(min_length = 1)]
    pub auth_token_seed: String,
    /// The session that asked for the token (empty is taken as absent).
    pub auth_token_source_session: Option<String>,
    /// End the session that asked for the token.
    pub disconnect_source_session: Option<bool>,
    pub application_name: Option<String>,
}

/// The `__type` of a password login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
pub enum PasswordConnectionType {
    #[serde(rename = "urn:inin.com:connection:icAuthConnectionRequestSettings")]
    IcAuth,
}

/// The `__type` of a token login.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, utoipa::ToSchema)]
pub enum TokenConnectionType {
    #[serde(rename = "urn:inin.com:connection:authTokenConnectionRequestSettings")]
    AuthToken,
}

impl ConnectionRequest {
    /// Reads a login body: its `__type` chooses the type whose members are read.
    pub fn read(body: &IcwsObject) -> Result<Self, IcwsError> {
        match body.string("__type")?.as_deref() {
            None | Some(LOGIN_TYPE) => body.read().map(Self::Password),
            Some(TOKEN_LOGIN_TYPE) => body.read().map(Self::Token),
            Some(_) => Err(IcwsError::invalid(
                "__type",
                format!("Only {LOGIN_TYPE} and {TOKEN_LOGIN_TYPE} connections are supported."),
            )),
        }
    }
}

/// The values of every `include` query parameter, each a comma-separated list.
pub fn includes(query: &[(String, String)]) -> Vec<String> {
    query.iter().filter(|(k, _)| k == "include").flat_map(|(_, v)| v.split(',').map(|s| s.trim().to_string())).collect()
}

/// Log in: opens a session.
#[utoipa::path(post, path = "/icws/connection",
    operation_id = "icws_login", tag = "icws connection", security(()), request_body = ConnectionRequest,
    params(("include" = Option<String>, Query, description = "Comma-separated: features, version, server-time, effective-station")),
    responses(
        (status = 201, body = ConnectionResponse, headers(
            ("ININ-ICWS-Session-ID" = String, description = "The session id, also in paths"),
            ("ININ-ICWS-CSRF-Token" = String, description = "To send back on every session request"),
            ("Location" = String, description = "`/icws/{sessionId}/connection`"),
            ("Set-Cookie" = String, description = "`icws_{sessionId}`, to send back on every session request"))),
        (status = 400, description = "Malformed body, wrong user name or password, or a token used twice, expired or not matching its seed",
            body = super::error::IcwsErrorBody),
        (status = 429, description = "Too many failed logins, or too many sessions for this user",
            body = super::error::IcwsErrorBody, headers(("Retry-After" = u64))),
        (status = 503, description = "The server holds as many sessions as it allows",
            body = super::error::IcwsErrorBody, headers(("Retry-After" = u64)))))]
pub async fn login(
    State(state): State<AppState>,
    ClientIp(ip): ClientIp,
    scheme: Option<axum::Extension<Scheme>>,
    Query(query): Query<Vec<(String, String)>>,
    body: IcwsObject,
) -> Result<Response, IcwsError> {
    let request = ConnectionRequest::read(&body)?;
    let includes = includes(&query);
    let has = |name: &str| includes.iter().any(|i| i == name);
    state.presence.sync().await?;
    let opened = match request {
        ConnectionRequest::Password(login) => {
            let application_name = login.application_name.unwrap_or_default();
            state.presence.login(&login.user_id, &login.password, &application_name, ip).await?
        }
        ConnectionRequest::Token(login) => {
            let application_name = login.application_name.unwrap_or_default();
            let login = TokenLogin {
                token: &login.auth_token,
                seed: &login.auth_token_seed,
                source_session: login.auth_token_source_session.as_deref().filter(|s| !s.is_empty()),
                disconnect_source: login.disconnect_source_session.unwrap_or(false),
                application_name: &application_name,
            };
            state.presence.login_with_token(login, ip).await?
        }
    };
    let session = &opened.session;

    let body = ConnectionResponse {
        csrf_token: opened.csrf_token.clone(),
        session_id: session.id.clone(),
        alternate_host_list: Vec::new(),
        user_id: session.username.clone(),
        user_display_name: session.display_name.clone(),
        ic_server: state.server_name.to_string(),
        features: has("features").then_some(&FEATURES[..]),
        version: has("version").then(version),
        server_time_info: has("server-time").then(server_time),
        effective_station: if has("effective-station") {
            EffectiveStation::of(session.station().as_ref())
        } else {
            None
        },
    };
    let secure = if scheme.is_some_and(|s| s.0 == Scheme::Https) { "; Secure" } else { "" };
    let cookie = format!("icws_{0}={1}; Path=/icws/{0}; HttpOnly{secure}", session.id, opened.cookie);
    let mut response = IcwsJson(StatusCode::CREATED, body).into_response();
    let headers = response.headers_mut();
    for (name, value) in [
        ("ININ-ICWS-Session-ID", session.id.clone()),
        (CSRF_HEADER, opened.csrf_token.clone()),
        ("Location", format!("/icws/{}/connection", session.id)),
        ("Set-Cookie", cookie),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    }
    Ok(response)
}

/// The session's connection state (1: up).
#[utoipa::path(get, path = "/icws/{sessionId}/connection",
    operation_id = "icws_get_connection", tag = "icws connection", security(("icws_session" = [])),
    params(("sessionId" = String, Path)),
    responses((status = 200, body = Object, example = json!({"connectionState": 1})), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn get(_session: IcwsSession) -> impl IntoResponse {
    ok(serde_json::json!({"connectionState": 1}))
}

/// Log out: ends the session.
#[utoipa::path(delete, path = "/icws/{sessionId}/connection",
    operation_id = "icws_logout", tag = "icws connection", security(("icws_session" = [])),
    params(("sessionId" = String, Path)),
    responses((status = 200), (status = 401, body = super::error::IcwsErrorBody)))]
pub async fn delete(State(state): State<AppState>, IcwsSession(session): IcwsSession) -> Result<Response, IcwsError> {
    state.presence.logout(&session).await?;
    let expired = format!("icws_{0}=; Path=/icws/{0}; HttpOnly; Max-Age=0", session.id);
    let mut response = StatusCode::OK.into_response();
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Server version.
#[utoipa::path(get, path = "/icws/connection/version",
    operation_id = "icws_get_version", tag = "icws connection", security(()), responses((status = 200, body = Version)))]
pub async fn get_version() -> impl IntoResponse {
    ok(version())
}

/// Supported features and their versions.
#[utoipa::path(get, path = "/icws/connection/features",
    operation_id = "icws_get_features", tag = "icws connection", security(()), responses((status = 200, body = FeatureList)))]
pub async fn get_features() -> impl IntoResponse {
    ok(FeatureList { feature_info_list: &FEATURES })
}

/// One feature's version.
#[utoipa::path(get, path = "/icws/connection/features/{featureId}",
    operation_id = "icws_get_feature", tag = "icws connection", security(()),
    params(("featureId" = String, Path)),
    responses((status = 200, body = FeatureInfo), (status = 400, body = super::error::IcwsErrorBody)))]
pub async fn get_feature(Path(id): Path<String>) -> Result<IcwsJson<&'static FeatureInfo>, IcwsError> {
    FEATURES.iter().find(|f| f.feature_id == id).map(ok).ok_or_else(|| {
        IcwsError::new(
            StatusCode::BAD_REQUEST,
            "error.request.connection.unknownFeature",
            format!("Unknown feature {id}."),
        )
    })
}

/// The server's UTC time.
#[utoipa::path(get, path = "/icws/connection/server-time",
    operation_id = "icws_get_server_time", tag = "icws connection", security(()), responses((status = 200, body = ServerTime)))]
pub async fn get_server_time() -> impl IntoResponse {
    ok(server_time())
}
