//! The OpenAPI document, generated from the handlers and served at `/openapi.json`.

use axum::http::header;
use axum::response::IntoResponse;
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{
    ArrayBuilder, ContentBuilder, HeaderBuilder, ObjectBuilder, Ref, RefOr, ResponseBuilder, Schema, Type,
};
use utoipa::{Modify, OpenApi};

use super::icws;
use super::xivo::resources::{
    cti_profiles, lines, scheduled_statuses, status_history, status_messages, status_reports, telephony,
    user_cti_profile, users, webhooks,
};
use crate::presence::render;

#[derive(OpenApi)]
#[openapi(
    info(title = "ctid", description = "CTI server: XiVO REST API 1.1 configuration API and ICWS presence API."),
    paths(
        users::list, users::get, users::create, users::update, users::delete,
        user_cti_profile::get, user_cti_profile::create, user_cti_profile::update, user_cti_profile::delete,
        cti_profiles::list, cti_profiles::get, cti_profiles::create, cti_profiles::update, cti_profiles::delete,
        status_messages::list, status_messages::get, status_messages::create, status_messages::update,
        status_messages::delete,
        scheduled_statuses::list, scheduled_statuses::get, scheduled_statuses::create, scheduled_statuses::delete,
        status_history::list, status_history::list_user,
        lines::list, lines::get, lines::create, lines::update, lines::delete,
        lines::list_user_lines, lines::associate, lines::get_user_line, lines::dissociate,
        status_reports::time_in_status,
        telephony::report, telephony::resync, telephony::active,
        webhooks::list, webhooks::get, webhooks::create, webhooks::update, webhooks::delete, webhooks::deliveries,
        icws::connection::login, icws::connection::get, icws::connection::delete, icws::connection::get_version,
        icws::connection::get_features, icws::connection::get_feature, icws::connection::get_server_time,
        icws::station::put, icws::station::get, icws::station::delete, icws::station::subscribe,
        icws::station::unsubscribe, icws::auth_token::post,
        icws::server_info::get_server_info, icws::server_info::get_switchover_status,
        icws::status::status_messages, icws::status::user_access, icws::status::get_user_status,
        icws::status::put_user_status, icws::status::scheduled_statuses, icws::status::get_previous_info,
        icws::status::status_history,
        icws::status::time_in_status,
        icws::messaging::subscribe_statuses, icws::messaging::unsubscribe_statuses, icws::messaging::subscribe_catalog,
        icws::messaging::unsubscribe_catalog, icws::messaging::subscribe_access, icws::messaging::unsubscribe_access,
        icws::messaging::subscribe_previous_info, icws::messaging::unsubscribe_previous_info,
        icws::messaging::messages, icws::messaging::heartbeat, icws::directory::users, icws::directory::session,
        icws::icons::get, super::health::health,
    ),
    components(schemas(
        render::StatusMessagesMessage, render::StatusMessagesUserAccessMessage, render::ConnectionStateChangeMessage,
        render::StationConnectionStateChangeMessage, render::EffectiveStationChangeMessage,
        render::UserStatusPreviousInfoMessage,
    )),
    modifiers(&Security, &CommonResponses),
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

/// `Content-Type` of the presence API's JSON bodies (parameters aside).
const ICWS_JSON: &str = "application/vnd.inin.icws+JSON";

/// What the layers in front of the handlers answer, documented on every operation they guard:
/// authentication, `Accept` negotiation and body reading. The presence API's JSON is also given
/// its vendor media type here.
struct CommonResponses;

impl Modify for CommonResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in &mut openapi.paths.paths {
            let operations = [&mut item.get, &mut item.put, &mut item.post, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                if path.starts_with("/1.1/") {
                    xivo_responses(operation);
                } else if path.starts_with("/icws/") {
                    icws_responses(operation, path.starts_with("/icws/{sessionId}/"));
                }
            }
        }
    }
}

fn xivo_responses(operation: &mut Operation) {
    let error = || -> RefOr<Schema> {
        ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)).build().into()
    };
    let challenge = HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::String))
        .description(Some("Digest challenge (realm XivoRealm, qop auth, nonce)"))
        .build();
    add(
        operation,
        "401",
        "No valid web-service credentials",
        "application/json",
        error(),
        Some(("WWW-Authenticate", challenge)),
    );
    add(operation, "406", "The Accept header admits no JSON", "application/json", error(), None);
    let retry = HeaderBuilder::new()
        .schema(ObjectBuilder::new().schema_type(Type::Integer))
        .description(Some("Seconds before credentials are checked again"))
        .build();
    add(
        operation,
        "429",
        "Too many failed authentications for this account or from this address",
        "application/json",
        error(),
        Some(("Retry-After", retry)),
    );
    if operation.request_body.is_some() {
        add(
            operation,
            "400",
            "The body is not a JSON object, or a member is unknown or invalid",
            "application/json",
            error(),
            None,
        );
        add(operation, "413", "The body is larger than 64 KiB", "application/json", error(), None);
    }
}

fn icws_responses(operation: &mut Operation, needs_session: bool) {
    for response in operation.responses.responses.values_mut() {
        if let RefOr::T(response) = response {
            response.content = std::mem::take(&mut response.content)
                .into_iter()
                .map(|(media, content)| {
                    (if media == "application/json" { ICWS_JSON.to_string() } else { media }, content)
                })
                .collect();
        }
    }
    let error = || -> RefOr<Schema> { Ref::from_schema_name("IcwsErrorBody").into() };
    if needs_session {
        let challenge = HeaderBuilder::new()
            .schema(ObjectBuilder::new().schema_type(Type::String))
            .description(Some(r#"ICWS realm="ICWS" location="/ICWS/connection""#))
            .build();
        add(
            operation,
            "401",
            "The session is missing, invalid or has ended",
            ICWS_JSON,
            error(),
            Some(("WWW-Authenticate", challenge)),
        );
    }
    if operation.request_body.is_some() {
        add(
            operation,
            "400",
            "The body is not a JSON object, or a member is missing or invalid",
            ICWS_JSON,
            error(),
            None,
        );
        add(operation, "413", "The body is larger than 64 KiB", ICWS_JSON, error(), None);
    }
}

/// Documents an error response unless the operation already does.
fn add(
    operation: &mut Operation,
    status: &str,
    description: &str,
    media_type: &str,
    schema: RefOr<Schema>,
    header: Option<(&str, utoipa::openapi::header::Header)>,
) {
    operation.responses.responses.entry(status.to_string()).or_insert_with(|| {
        let mut response = ResponseBuilder::new()
            .description(description)
            .content(media_type, ContentBuilder::new().schema(Some(schema)).build());
        if let Some((name, header)) = header {
            response = response.header(name, header);
        }
        response.build().into()
    });
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
