//! The OpenAPI document, generated from the handlers and served at `/openapi.json`.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::icws;
use super::xivo::resources::{cti_profiles, status_messages, user_cti_profile, users};

#[derive(OpenApi)]
#[openapi(
    info(title = "ctid", description = "CTI server: XiVO REST API 1.1 configuration API and ICWS presence API."),
    paths(
        users::list, users::get, users::create, users::update, users::delete,
        user_cti_profile::get, user_cti_profile::create, user_cti_profile::update, user_cti_profile::delete,
        cti_profiles::list, cti_profiles::get, cti_profiles::create, cti_profiles::update, cti_profiles::delete,
        status_messages::list, status_messages::get, status_messages::create, status_messages::update,
        status_messages::delete,
        icws::connection::login, icws::connection::get, icws::connection::delete, icws::connection::get_version,
        icws::connection::get_features, icws::connection::get_feature, icws::connection::get_server_time,
        icws::connection::put_station, icws::connection::delete_station,
        icws::status::status_messages, icws::status::user_access, icws::status::get_user_status,
        icws::status::put_user_status,
        icws::messaging::subscribe_statuses, icws::messaging::unsubscribe_statuses, icws::messaging::subscribe_catalog,
        icws::messaging::unsubscribe_catalog, icws::messaging::subscribe_access, icws::messaging::unsubscribe_access,
        icws::messaging::messages, icws::messaging::heartbeat, icws::directory::users, icws::directory::session,
    ),
    modifiers(&Security),
    security(("digest" = []), ("basic" = [])),
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "digest",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Digest)
                    .description(Some("HTTP Digest, realm XivoRealm, qop auth"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "icws_session",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "ININ-ICWS-CSRF-Token",
                "The session's CSRF token; the icws_{sessionId} cookie must be sent too.",
            ))),
        );
    }
}

/// The document as pretty-printed JSON, ending with a newline.
pub fn document() -> String {
    let mut json = ApiDoc::openapi().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], document())
}
