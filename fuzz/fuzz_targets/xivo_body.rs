//! Configuration API bodies: the bytes of a POST or PUT, read as a JSON object, then turned
//! into the changes of a user, a CTI profile, a status message or a user↔profile association,
//! then validated by the domain.

#![no_main]

use ctid::domain::cti_profile::{self, CtiProfileChanges};
use ctid::domain::status::{self, StatusMessageChanges};
use ctid::domain::user::{self, UserChanges, UserFields};
use ctid::domain::validation::MAX_TEXT_LEN;
use ctid::http::xivo::body::{JsonObject, parse_object};
use ctid::http::xivo::resources::{cti_profiles, status_messages, user_cti_profile, users};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

fuzz_target!(|data: &[u8]| {
    let map = match parse_object(data) {
        Ok(map) => map,
        Err(error) => {
            assert_eq!(error.status, 400, "a body that is not a JSON object is a 400");
            return;
        }
    };
    let rendered = serde_json::to_vec(&map).expect("a parsed object serialises");
    assert!(parse_object(&rendered).is_ok(), "a re-serialised object parses again");

    user_body(map.clone());
    cti_profile_body(map.clone());
    status_message_body(map.clone());
    if let Ok(id) = user_cti_profile::profile_id(JsonObject(map.clone())) {
        assert!(map.get("cti_profile_id").is_some_and(|v| v.as_i64() == Some(id)));
    }
});

fn user_body(map: Map<String, Value>) {
    let Ok(changes) = users::changes(JsonObject(map)) else { return };
    if let Ok(valid) = user::validate_new(changes.clone()) {
        check_user(&valid.fields);
        let unchanged = user::validate_edit(&valid.fields, UserChanges::default()).expect("an empty edit is valid");
        assert_eq!(unchanged.fields, valid.fields, "an empty edit changes nothing");
        assert_eq!(unchanged.password, None);
        let again = user::validate_edit(&valid.fields, changes.clone()).expect("the same changes stay valid");
        assert_eq!(again, valid, "applying the same changes twice is applying them once");
    }
    let existing = UserFields {
        firstname: "John".into(),
        lastname: "Doe".into(),
        caller_id: UserFields::default_caller_id("John", "Doe"),
        username: Some("jdoe".into()),
        ..UserFields::default()
    };
    if let Ok(edited) = user::validate_edit(&existing, changes) {
        check_user(&edited.fields);
    }
}

fn check_user(fields: &UserFields) {
    assert!(!fields.firstname.trim().is_empty());
    assert!(fields.firstname.chars().count() <= MAX_TEXT_LEN);
    assert!(fields.caller_id.chars().count() <= MAX_TEXT_LEN);
    if let Some(number) = &fields.mobile_phone_number {
        assert!(number.bytes().all(|b| b.is_ascii_digit()), "{number:?}");
    }
    if let Some(username) = &fields.username {
        assert!(!username.is_empty() && !username.contains('/'), "{username:?}");
    }
}

fn cti_profile_body(map: Map<String, Value>) {
    let Ok(changes) = cti_profiles::changes(JsonObject(map)) else { return };
    let catalog = status::defaults();
    let Ok(fields) = cti_profile::validate_new(changes.clone(), &catalog) else { return };
    assert!(!fields.name.trim().is_empty());
    for id in fields.allowed_statuses.resolve(&catalog) {
        assert!(catalog.iter().any(|s| s.status_id == id && s.is_selectable_status), "{id:?}");
    }
    let unchanged =
        cti_profile::validate_edit(&fields, CtiProfileChanges::default(), &catalog).expect("an empty edit is valid");
    assert_eq!(unchanged, fields, "an empty edit changes nothing");
    let again = cti_profile::validate_edit(&fields, changes, &catalog).expect("the same changes stay valid");
    assert_eq!(again, fields, "applying the same changes twice is applying them once");
}

fn status_message_body(map: Map<String, Value>) {
    let Ok(changes) = status_messages::changes(JsonObject(map)) else { return };
    let Ok(message) = status::validate_new(changes.clone()) else { return };
    assert!(status::valid_status_id(&message.status_id));
    assert!(!message.built_in, "a new status is never built in");
    let unchanged = status::validate_edit(&message, StatusMessageChanges::default()).expect("an empty edit is valid");
    assert_eq!(unchanged, message, "an empty edit changes nothing");
    let again = status::validate_edit(&message, changes).expect("the same changes stay valid");
    assert_eq!(again, message, "applying the same changes twice is applying them once");
}
