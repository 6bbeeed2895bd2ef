//! Station login of every settings type, station information, and the messages that follow a
//! session's station (SPEC §3 "More connection resources", "Message shapes").

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const STATION: &str = "/connection/station";
const STATION_SUBSCRIPTION: &str = "/messaging/subscriptions/connection/station";
const STATION_STATE: &str = "urn:inin.com:connection:stationConnectionStateChangeMessage";
const EFFECTIVE: &str = "urn:inin.com:connection:effectiveStationChangeMessage";
const USER_STATUS: &str = "urn:inin.com:status:userStatusMessage";

/// Station information of a session that is not logged in to a station, or stationless.
fn no_station() -> Value {
    json!({"id": "", "extension": "", "stationSetting": 0})
}

/// `PUT /connection/station` with `body`, which must answer 200 with no body.
async fn log_in_to(app: &TestApp, login: &IcwsLogin, body: &Value) {
    let reply = app.icws(Method::PUT, login, STATION, Some(&body.to_string())).await;
    assert_eq!(reply.status.as_u16(), 200, "PUT {body}: {}", reply.body);
    assert_eq!(reply.body, "", "PUT {body}");
}

/// The settings types, each with the station information and `stations` it must show.
fn settings() -> Vec<(Value, Value, Value)> {
    vec![
        (
            json!({"__type": "urn:inin.com:connection:workstationSettings", "workstation": "7001",
                   "supportedMediaTypes": [1], "readyForInteractions": true}),
            json!({"id": "7001", "extension": "7001", "stationSetting": 1}),
            json!(["7001"]),
        ),
        (
            json!({"__type": "urn:inin.com:connection:remoteWorkstationSettings", "workstation": "7002",
                   "remoteNumber": "+33 6 12 34 56 78"}),
            json!({"id": "7002", "extension": "7002", "stationSetting": 2, "remoteNumber": "+33 6 12 34 56 78"}),
            json!(["7002"]),
        ),
        (
            json!({"__type": "urn:inin.com:connection:remoteWorkstationSettings", "workstation": "7003"}),
            json!({"id": "7003", "extension": "7003", "stationSetting": 2}),
            json!(["7003"]),
        ),
        (
            json!({"__type": "urn:inin.com:connection:remoteNumberSettings", "remoteNumber": "0612345678",
                   "persistentConnection": true}),
            json!({"id": "0612345678", "extension": "0612345678", "stationSetting": 3, "remoteNumber": "0612345678"}),
            json!(["0612345678"]),
        ),
        (json!({"__type": "urn:inin.com:connection:stationlessSettings"}), no_station(), json!([])),
    ]
}

#[tokio::test]
async fn every_station_type_shows_in_station_information_and_the_user_status() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    app.presence_user("boss", "secret", 1).await;
    let agent = app.icws_login("agent", "secret").await;
    let boss = app.icws_login("boss", "secret").await;
    app.subscribe(&boss, &["agent"]).await;
    let mut inbox = Inbox::new(&app, &boss);
    let first = inbox.next().await;
    assert_eq!(first["userStatusList"][0]["loggedIn"], false, "{first}");

    let reply = app.icws(Method::GET, &agent, STATION, None).await;
    reply.assert_icws_error(404, "error.request.notFound");

    for (body, information, stations) in settings() {
        log_in_to(&app, &agent, &body).await;
        let reply = app.icws(Method::GET, &agent, STATION, None).await;
        assert_eq!(reply.status.as_u16(), 200, "{body}: {}", reply.body);
        assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
        assert_eq!(reply.json(), information, "{body}");

        let status = app.user_status(&boss, "agent").await;
        assert_eq!(status["stations"], stations, "{body}");
        assert_eq!(status["loggedIn"], true, "{body}: a stationless login is logged in too");
        // A subscriber sees the same, pushed.
        let messages = inbox
            .until("the agent's delta", |m| {
                m["__type"] == USER_STATUS && m["userStatusList"][0]["stations"] == stations
            })
            .await;
        let entry = &messages.last().expect("delta")["userStatusList"][0];
        assert_eq!(entry["loggedIn"], true, "{body}: {entry}");
    }

    let reply = app.icws(Method::DELETE, &agent, STATION, None).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    let reply = app.icws(Method::GET, &agent, STATION, None).await;
    reply.assert_icws_error(404, "error.request.notFound");
    let status = app.user_status(&boss, "agent").await;
    assert_eq!((&status["stations"], &status["loggedIn"]), (&json!([]), &json!(false)));
    let messages = inbox.until("the logout delta", |m| m["userStatusList"][0]["loggedIn"] == false).await;
    assert_eq!(messages.last().expect("delta")["userStatusList"][0]["stations"], json!([]));
}

#[tokio::test]
async fn two_sessions_of_one_user_list_both_stations_and_stay_logged_in_while_one_is() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let desk = app.icws_login("agent", "secret").await;
    let mobile = app.icws_login("agent", "secret").await;
    log_in_to(&app, &desk, &json!({"workstation": "7001"})).await;
    let number = json!({"__type": "urn:inin.com:connection:remoteNumberSettings", "remoteNumber": "555"});
    log_in_to(&app, &mobile, &number).await;
    assert_eq!(app.user_status(&desk, "agent").await["stations"], json!(["555", "7001"]));
    log_in_to(&app, &mobile, &json!({"__type": "urn:inin.com:connection:stationlessSettings"})).await;
    let status = app.user_status(&desk, "agent").await;
    assert_eq!((&status["stations"], &status["loggedIn"]), (&json!(["7001"]), &json!(true)));
    let reply = app.icws(Method::DELETE, &desk, STATION, None).await;
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    let status = app.user_status(&desk, "agent").await;
    assert_eq!((&status["stations"], &status["loggedIn"]), (&json!([]), &json!(true)), "stationless still");
}

#[tokio::test]
async fn station_logins_with_a_wrong_type_or_member_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let login = app.icws_login("agent", "secret").await;
    let invalid = "error.request.invalidRepresentation.invalidProperty";
    let missing = "error.request.invalidRepresentation.missingRequired";
    let long = "7".repeat(65);
    let cases = [
        (json!({"__type": "urn:inin.com:connection:phoneSettings", "workstation": "7001"}), invalid, "__type"),
        (json!({"__type": "urn:inin.com:connection:remoteNumberSettings"}), missing, "remoteNumber"),
        (
            json!({"__type": "urn:inin.com:connection:remoteWorkstationSettings", "remoteNumber": "5"}),
            missing,
            "workstation",
        ),
        (
            json!({"__type": "urn:inin.com:connection:remoteNumberSettings", "remoteNumber": long}),
            invalid,
            "remoteNumber",
        ),
        (json!({"workstation": "70\n01"}), invalid, "workstation"),
        (json!({"workstation": "7001", "supportedMediaTypes": ["voice"]}), invalid, "supportedMediaTypes"),
        (json!({"workstation": "7001", "readyForInteractions": "yes"}), invalid, "readyForInteractions"),
        (
            json!({"__type": "urn:inin.com:connection:remoteNumberSettings", "remoteNumber": "5", "persistentConnection": 1}),
            invalid,
            "persistentConnection",
        ),
        (json!({"workstation": "7001", "persistentConnection": {}}), invalid, "persistentConnection"),
        (json!({"__type": "urn:inin.com:connection:stationlessSettings", "remoteNumber": 5}), invalid, "remoteNumber"),
        (
            json!({"__type": "urn:inin.com:connection:stationlessSettings", "workstation": "7".repeat(65)}),
            invalid,
            "workstation",
        ),
    ];
    for (body, error, property) in cases {
        let reply = app.icws(Method::PUT, &login, STATION, Some(&body.to_string())).await;
        reply.assert_icws_error(400, error);
        assert_eq!(reply.json()["propertyName"], property, "{body}: {}", reply.body);
    }
    app.icws(Method::GET, &login, STATION, None).await.assert_icws_error(404, "error.request.notFound");
    assert_eq!(app.user_status(&login, "agent").await["loggedIn"], false);
}

#[tokio::test]
async fn the_station_subscription_and_the_effective_station_follow_the_session() {
    let app = TestApp::spawn().await;
    app.presence_user("agent", "secret", 2).await;
    let reply = send(
        app.client.post(app.url("/icws/connection?include=effective-station,features")).body(
            json!({"__type": "urn:inin.com:connection:icAuthConnectionRequestSettings", "applicationName": "t",
                   "userID": "agent", "password": "secret"})
            .to_string(),
        ),
    )
    .await;
    assert_eq!(reply.status.as_u16(), 201, "body: {}", reply.body);
    let body = reply.json();
    assert!(body.get("effectiveStation").is_none(), "a new session has no station: {body}");
    assert!(body["features"].is_array(), "{body}");
    let agent = app.icws_login("agent", "secret").await;
    let mut inbox = Inbox::new(&app, &agent);

    let reply = app.icws(Method::PUT, &agent, STATION_SUBSCRIPTION, None).await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, ""));
    assert_eq!(inbox.next().await, json!({"__type": STATION_STATE, "isDelta": false, "newStationInfo": no_station()}));

    log_in_to(&app, &agent, &json!({"__type": "urn:inin.com:connection:workstationSettings", "workstation": "Desk 7"}))
        .await;
    let workstation = json!({"id": "Desk 7", "extension": "Desk 7", "stationSetting": 1});
    assert_eq!(
        inbox.next().await,
        json!({"__type": EFFECTIVE, "isDelta": false, "effectiveStation": {"stationId": {
            "id": "Desk 7", "displayName": "Desk 7", "uri": "/configuration/stations/Desk%207"}}})
    );
    assert_eq!(
        inbox.next().await,
        json!({"__type": STATION_STATE, "isDelta": true, "previousStationInfo": no_station(), "newStationInfo": workstation})
    );

    // The same login again changes nothing and sends nothing.
    log_in_to(&app, &agent, &json!({"workstation": "Desk 7"})).await;
    // Stationless: no effective station any more.
    log_in_to(&app, &agent, &json!({"__type": "urn:inin.com:connection:stationlessSettings"})).await;
    assert_eq!(inbox.next().await, json!({"__type": EFFECTIVE, "isDelta": false, "effectiveStation": null}));
    assert_eq!(
        inbox.next().await,
        json!({"__type": STATION_STATE, "isDelta": true, "previousStationInfo": workstation, "newStationInfo": no_station()})
    );

    // Unsubscribed: the effective station still follows, the station state no longer.
    let reply = app.icws(Method::DELETE, &agent, STATION_SUBSCRIPTION, None).await;
    assert_eq!((reply.status.as_u16(), reply.body.as_str()), (204, ""));
    let number = json!({"__type": "urn:inin.com:connection:remoteNumberSettings", "remoteNumber": "555"});
    log_in_to(&app, &agent, &number).await;
    assert_eq!(
        inbox.next().await,
        json!({"__type": EFFECTIVE, "isDelta": false, "effectiveStation": {"stationId": {
            "id": "555", "displayName": "555", "uri": "/configuration/stations/555"}}})
    );
    let sentinel = app.set_status(&agent, "agent", json!({"statusId": "At Lunch"})).await;
    let messages = inbox.until("the completion", |m| m["requestId"] == sentinel).await;
    assert!(messages.iter().all(|m| m["__type"] != STATION_STATE), "{messages:#?}");
}
