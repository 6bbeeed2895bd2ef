//! The presence API's error shape: `{"errorId", "message"}` (plus `__type` and `propertyName`
//! for derived errors), with the vendor Content-Type.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::presence::ChangeError;
use crate::presence::PresenceError;
use crate::presence::sessions::SessionLimit;

/// `Content-Type` of every ICWS JSON response.
pub const CONTENT_TYPE: &str = "application/vnd.inin.icws+JSON; charset=utf-8";
/// `WWW-Authenticate` of a 401.
pub const CHALLENGE: &str = r#"ICWS realm="ICWS" location="/ICWS/connection""#;

pub const MALFORMED: &str = "error.request.invalidRepresentation.malformed";
pub const MISSING_REQUIRED: &str = "error.request.invalidRepresentation.missingRequired";
pub const INVALID_PROPERTY: &str = "error.request.invalidRepresentation.invalidProperty";
pub const AUTHENTICATION_FAILURE: &str = "error.request.connection.authenticationFailure";
pub const THROTTLED: &str = "error.request.connection.throttled";
pub const TOO_MANY_SESSIONS: &str = "error.request.connection.tooManySessions";
pub const SERVER_BUSY: &str = "error.request.connection.serverBusy";
pub const INVALID_SESSION: &str = "error.request.connection.invalidSession";
pub const ACCESS_DENIED: &str = "error.request.accessDenied";
pub const NOT_FOUND: &str = "error.request.notFound";
pub const RANGE_NOT_SATISFIABLE: &str = "error.request.rangeNotSatisfiable";

/// `Retry-After` of a login refused for want of a session slot.
const SESSION_RETRY_SECONDS: u64 = 30;

const MISSING_TYPE: &str = "urn:inin.com:common:missingPropertyError";
const INVALID_TYPE: &str = "urn:inin.com:common:invalidPropertyError";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IcwsErrorBody {
    #[serde(rename = "__type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<&'static str>,
    #[serde(rename = "errorId")]
    pub error_id: String,
    pub message: String,
    #[serde(rename = "propertyName", skip_serializing_if = "Option::is_none")]
    pub property_name: Option<String>,
}

/// An ICWS error response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IcwsError {
    pub status: StatusCode,
    pub body: IcwsErrorBody,
    retry_after: Option<u64>,
}

impl IcwsError {
    pub fn new(status: StatusCode, error_id: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            body: IcwsErrorBody { kind: None, error_id: error_id.into(), message: message.into(), property_name: None },
            retry_after: None,
        }
    }

    pub fn malformed(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, MALFORMED, message)
    }

    pub fn missing(property: &str) -> Self {
        let mut error = Self::new(
            StatusCode::BAD_REQUEST,
            MISSING_REQUIRED,
            format!("The required property {property} is missing."),
        );
        error.body.kind = Some(MISSING_TYPE);
        error.body.property_name = Some(property.into());
        error
    }

    pub fn invalid(property: &str, message: impl Into<String>) -> Self {
        let mut error = Self::new(StatusCode::BAD_REQUEST, INVALID_PROPERTY, message);
        error.body.kind = Some(INVALID_TYPE);
        error.body.property_name = Some(property.into());
        error
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, INVALID_SESSION, "The session is missing, invalid or has expired.")
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, NOT_FOUND, message)
    }

    /// The errorId a bare status gets when nothing more specific is known.
    pub fn for_status(status: StatusCode) -> Self {
        let (id, message) = match status {
            StatusCode::BAD_REQUEST => (MALFORMED, "The request is malformed."),
            StatusCode::UNAUTHORIZED => return Self::unauthorized(),
            StatusCode::NOT_FOUND => (NOT_FOUND, "The requested resource does not exist."),
            StatusCode::METHOD_NOT_ALLOWED => {
                ("error.request.methodNotAllowed", "The method is not allowed on this resource.")
            }
            StatusCode::PAYLOAD_TOO_LARGE => ("error.request.entityTooLarge", "The request body is too large."),
            StatusCode::SERVICE_UNAVAILABLE => ("error.server.unavailable", "The service is temporarily unavailable."),
            s if s.is_client_error() => ("error.request", "The request was refused."),
            _ => ("error.server", "An unexpected error occurred while processing the request."),
        };
        Self::new(status, id, message)
    }
}

impl IntoResponse for IcwsError {
    fn into_response(self) -> Response {
        let mut response = (
            self.status,
            [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))],
            serde_json::to_vec(&self.body).unwrap_or_default(),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(CHALLENGE));
        }
        if let Some(seconds) = self.retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl From<PresenceError> for IcwsError {
    fn from(err: PresenceError) -> Self {
        match err {
            PresenceError::AuthenticationFailed => Self::new(
                StatusCode::BAD_REQUEST,
                AUTHENTICATION_FAILURE,
                "The authentication process failed: the user name or password is incorrect.",
            ),
            PresenceError::Throttled(wait) => {
                let mut error = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    THROTTLED,
                    format!("Too many failed login attempts; try again in {} seconds.", wait.as_secs().max(1)),
                );
                error.retry_after = Some(wait.as_secs().max(1));
                error
            }
            PresenceError::SessionLimit(SessionLimit::PerUser) => {
                let mut error = Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    TOO_MANY_SESSIONS,
                    "This user has too many open sessions; log out of one or wait for an idle one to expire.",
                );
                error.retry_after = Some(SESSION_RETRY_SECONDS);
                error
            }
            PresenceError::SessionLimit(SessionLimit::Total) => {
                let mut error = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    SERVER_BUSY,
                    "The server holds as many sessions as it allows; try again later.",
                );
                error.retry_after = Some(SESSION_RETRY_SECONDS);
                error
            }
            PresenceError::SessionEnded => Self::unauthorized(),
            PresenceError::UserNotFound(user) => Self::not_found(format!("The user {user} does not exist.")),
            PresenceError::Forbidden(message) => Self::new(StatusCode::FORBIDDEN, ACCESS_DENIED, message),
            PresenceError::Invalid(ChangeError::UnknownStatus(id)) => {
                Self::invalid("statusId", format!("The status {id} does not exist or is not allowed for this user."))
            }
            PresenceError::Invalid(ChangeError::ForwardNumberRequired) => Self::missing("forwardNumber"),
            PresenceError::Invalid(ChangeError::Invalid(property)) => {
                Self::invalid(property, format!("The value of {property} is invalid."))
            }
            PresenceError::RangeNotSatisfiable(total) => Self::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                RANGE_NOT_SATISFIABLE,
                format!("The requested range starts past the end of the list ({total} in all)."),
            ),
            PresenceError::Unavailable => {
                let mut error = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "error.server.unavailable",
                    "The service is temporarily unavailable: its database cannot be reached.",
                );
                error.retry_after = Some(1);
                error
            }
        }
    }
}

/// A JSON success body with the vendor Content-Type.
pub struct IcwsJson<T>(pub StatusCode, pub T);

impl<T: Serialize> IntoResponse for IcwsJson<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.1) {
            Ok(body) => {
                (self.0, [(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE))], body).into_response()
            }
            Err(_) => IcwsError::for_status(StatusCode::INTERNAL_SERVER_ERROR).into_response(),
        }
    }
}

/// 200 with a JSON body.
pub fn ok<T: Serialize>(body: T) -> IcwsJson<T> {
    IcwsJson(StatusCode::OK, body)
}
