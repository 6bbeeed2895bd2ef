//! `/icws/connection/server-info`, `/icws/{sessionId}/connection/switchover-status` and the
//! directory `/icws/{sessionId}/configuration/users` with `select`, `where` and `items` ranges
//! (SPEC §3 "More connection resources").

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const CHALLENGE: &str = r#"ICWS realm="ICWS" location="/ICWS/connection""#;
const PASSWORD: &str = "s3cret";
const INVALID_PROPERTY: &str = "error.request.invalidRepresentation.invalidProperty";
const INVALID_TYPE: &str = "urn:inin.com:common:invalidPropertyError";
const MALFORMED: &str = "error.request.invalidRepresentation.malformed";
const RANGE_NOT_SATISFIABLE: &str = "error.request.rangeNotSatisfiable";

/// Creates a user (a presence user when it has a username: password and `profile`); returns its id.
async fn user(app: &TestApp, username: Option<&str>, firstname: &str, lastname: &str, profile: Option<i64>) -> i64 {
    let mut body = json!({"firstname": firstname, "lastname": lastname});
    if let Some(username) = username {
        body["username"] = json!(username);
        if profile.is_some() {
            body["password"] = json!(PASSWORD);
        }
    }
    let id = app.create_user(body).await;
    if let Some(profile) = profile {
        let reply =
            app.post(&format!("/1.1/users/{id}/cti_profile"), &json!({"cti_profile_id": profile}).to_string()).await;
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    }
    id
}

/// Gives `user` a new line (with `number` as its extension, if any).
async fn line(app: &TestApp, user: i64, name: &str, number: Option<&str>) {
    let mut body = json!({"name": name});
    if let Some(number) = number {
        body["number"] = json!(number);
    }
    let reply = app.post("/1.1/lines", &body.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    let line = reply.json()["id"].as_i64().expect("line id");
    let reply = app.post(&format!("/1.1/users/{user}/lines"), &json!({"line_id": line}).to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
}

/// A profile that may view and change only its own user's status.
async fn view_self_profile(app: &TestApp) -> i64 {
    let body = json!({"name": "Self only", "view_statuses": "self", "change_statuses": "self"});
    let reply = app.post("/1.1/cti_profiles", &body.to_string()).await;
    assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
    reply.json()["id"].as_i64().expect("profile id")
}

/// `GET /icws/{sessionId}/configuration/users` with these query parameters and `Range` header.
async fn directory(app: &TestApp, login: &IcwsLogin, query: &[(&str, &str)], range: Option<&str>) -> Reply {
    let mut builder = app
        .client
        .get(app.url(&format!("/icws/{}/configuration/users", login.session_id)))
        .query(query)
        .header("ININ-ICWS-CSRF-Token", &login.csrf_token)
        .header("Cookie", &login.cookie);
    if let Some(range) = range {
        builder = builder.header("Range", range);
    }
    send(builder).await
}

/// An item as listed without `select`.
fn item(id: &str, display_name: &str) -> Value {
    json!({"configurationId": {"id": id, "displayName": display_name, "uri": format!("/configuration/users/{id}")}})
}

/// `item` with further members.
fn item_with(id: &str, display_name: &str, members: &Value) -> Value {
    let mut item = item(id, display_name);
    for (name, value) in members.as_object().expect("members") {
        item[name] = value.clone();
    }
    item
}

/// 200, every item, no `Content-Range`.
#[track_caller]
fn assert_all(reply: &Reply, expected: &[Value]) {
    assert_eq!(reply.status.as_u16(), 200, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    assert_eq!(reply.header("accept-ranges"), Some("items"));
    assert_eq!(reply.header("content-range"), None);
    assert_eq!(reply.json(), json!({"items": expected}));
}

/// 206 with `Content-Range: items first-last/total` and these items.
#[track_caller]
fn assert_page(reply: &Reply, content_range: &str, expected: &[Value]) {
    assert_eq!(reply.status.as_u16(), 206, "body: {}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    assert_eq!(reply.header("accept-ranges"), Some("items"));
    assert_eq!(reply.header("content-range"), Some(content_range));
    assert_eq!(reply.json(), json!({"items": expected}));
}

/// 416 with `Content-Range: items */total` and an ICWS error body.
#[track_caller]
fn assert_unsatisfiable(reply: &Reply, total: usize) {
    reply.assert_icws_error(416, RANGE_NOT_SATISFIABLE);
    assert_eq!(reply.header("content-range"), Some(format!("items */{total}").as_str()));
    assert_members(&reply.json(), &["errorId", "message"]);
}

/// 400 invalidProperty naming `property` (`where` or `select`).
#[track_caller]
fn assert_invalid(reply: &Reply, property: &str) {
    reply.assert_icws_error(400, INVALID_PROPERTY);
    let body = reply.json();
    assert_eq!(body["__type"], INVALID_TYPE, "{body}");
    assert_eq!(body["propertyName"], property, "{body}");
    assert_members(&body, &["__type", "errorId", "message", "propertyName"]);
}

#[track_caller]
fn assert_members(body: &Value, names: &[&str]) {
    let mut members: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
    members.sort_unstable();
    assert_eq!(members, names, "{body}");
}

#[tokio::test]
async fn server_info_answers_without_a_session() {
    let app = TestApp::spawn().await;
    let reply = send(app.client.get(app.url("/icws/connection/server-info")).header("Accept-Language", "fr-FR")).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    assert_eq!(
        reply.json(),
        json!({
            "languages": [{"languageID": "en-US", "languageDisplayName": "English (United States)"}],
            "acceptLanguage": "en-US",
            "authentication": {"allowIcAuth": true}
        })
    );
}

#[tokio::test]
async fn switchover_status_names_the_server_and_needs_a_session() {
    let app = TestApp::spawn_with(&["--server-name", "cti-primary.example"], &[]).await;
    user(&app, Some("jdoe"), "John", "Doe", Some(2)).await;
    let login = app.icws_login("jdoe", PASSWORD).await;

    let reply = app.icws(Method::GET, &login, "/connection/switchover-status", None).await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE));
    assert_eq!(reply.json(), json!({"isSwitchoverActive": false, "primaryHost": "cti-primary.example"}));
    assert_eq!(reply.json()["primaryHost"], login.body["icServer"], "the login's icServer");

    let path = format!("/icws/{}/connection/switchover-status", login.session_id);
    let anonymous = send(app.client.get(app.url(&path))).await;
    let no_token = send(app.client.get(app.url(&path)).header("Cookie", &login.cookie)).await;
    let unknown = send(
        app.client
            .get(app.url("/icws/1/connection/switchover-status"))
            .header("ININ-ICWS-CSRF-Token", &login.csrf_token)
            .header("Cookie", &login.cookie),
    )
    .await;
    assert_eq!(app.icws(Method::DELETE, &login, "/connection", None).await.status.as_u16(), 200);
    let ended = app.icws(Method::GET, &login, "/connection/switchover-status", None).await;
    for reply in [anonymous, no_token, unknown, ended] {
        reply.assert_icws_error(401, "error.request.connection.invalidSession");
        assert_eq!(reply.header("www-authenticate"), Some(CHALLENGE));
    }
}

/// A directory of six listed users (and one without a username), seen by `jdoe` (view all) and
/// `carl.self` (view self):
///
/// | username | display name | extension | status |
/// |---|---|---|---|
/// | asmith | ann Smith | – | At Lunch |
/// | bob1 | bob brown | – | Available |
/// | bob2 | Bob Brown | 3003 | Available |
/// | carl.self | Carl Self | 2002 (its second line: the first has no number) | Available |
/// | dana | Dana Doe | – (no CTI profile) | Available |
/// | jdoe | John Doe | 1001 | Available |
struct Directory {
    app: TestApp,
    all: IcwsLogin,
    own: IcwsLogin,
}

impl Directory {
    async fn new() -> Self {
        let app = TestApp::spawn().await;
        let own_profile = view_self_profile(&app).await;
        let jdoe = user(&app, Some("jdoe"), "John", "Doe", Some(1)).await;
        user(&app, Some("asmith"), "ann", "Smith", Some(2)).await;
        let bob2 = user(&app, Some("bob2"), "Bob", "Brown", Some(2)).await;
        user(&app, Some("bob1"), "bob", "brown", Some(2)).await;
        let carl = user(&app, Some("carl.self"), "Carl", "Self", Some(own_profile)).await;
        user(&app, Some("dana"), "Dana", "Doe", None).await;
        user(&app, None, "Nameless", "User", None).await;
        line(&app, jdoe, "jdoe-desk", Some("1001")).await;
        line(&app, bob2, "bob2-desk", Some("3003")).await;
        line(&app, carl, "carl-soft", None).await;
        line(&app, carl, "carl-desk", Some("2002")).await;
        let all = app.icws_login("jdoe", PASSWORD).await;
        app.set_status(&all, "asmith", json!({"statusId": "At Lunch"})).await;
        let own = app.icws_login("carl.self", PASSWORD).await;
        Self { app, all, own }
    }
}

fn everyone() -> Vec<Value> {
    vec![
        item("asmith", "ann Smith"),
        item("bob1", "bob brown"),
        item("bob2", "Bob Brown"),
        item("carl.self", "Carl Self"),
        item("dana", "Dana Doe"),
        item("jdoe", "John Doe"),
    ]
}

#[tokio::test]
async fn the_directory_lists_every_viewable_user_by_display_name_then_id() {
    let world = Directory::new().await;
    let (app, all) = (&world.app, &world.all);
    assert_all(&directory(app, all, &[], None).await, &everyone());
    // A range of another unit is ignored.
    assert_all(&directory(app, all, &[], Some("bytes=0-1")).await, &everyone());
    // Unknown parameters and select names are ignored; configurationId is always there.
    let ignored = [("select", "configurationId,workgroups"), ("rightsFilter", "view"), ("orderBy", "x desc")];
    assert_all(&directory(app, all, &ignored, None).await, &everyone());
}

#[tokio::test]
async fn select_adds_the_members_it_names() {
    let world = Directory::new().await;
    let (app, all) = (&world.app, &world.all);

    let names: Vec<Value> = everyone()
        .into_iter()
        .map(|i| {
            let name = i["configurationId"]["displayName"].clone();
            item_with(
                i["configurationId"]["id"].as_str().expect("id"),
                name.as_str().expect("name"),
                &json!({"displayName": name}),
            )
        })
        .collect();
    assert_all(&directory(app, all, &[("select", "displayName")], None).await, &names);

    let phone = |id: &str, name: &str, extension: Option<&str>, status: &str| match extension {
        Some(extension) => item_with(id, name, &json!({"extension": extension, "statusText": status})),
        None => item_with(id, name, &json!({"statusText": status})),
    };
    let phones = vec![
        phone("asmith", "ann Smith", None, "At Lunch"),
        phone("bob1", "bob brown", None, "Available"),
        phone("bob2", "Bob Brown", Some("3003"), "Available"),
        phone("carl.self", "Carl Self", Some("2002"), "Available"),
        phone("dana", "Dana Doe", None, "Available"),
        phone("jdoe", "John Doe", Some("1001"), "Available"),
    ];
    assert_all(&directory(app, all, &[("select", " EXTENSION , statustext ")], None).await, &phones);
    // Several select parameters add up.
    assert_all(&directory(app, all, &[("select", "extension"), ("select", "statusText")], None).await, &phones);

    let everything: Vec<Value> = phones
        .iter()
        .map(|i| {
            let mut i = i.clone();
            i["displayName"] = i["configurationId"]["displayName"].clone();
            i
        })
        .collect();
    assert_all(&directory(app, all, &[("select", "*")], None).await, &everything);
    assert_all(
        &directory(app, all, &[("select", "configurationId,displayName,extension,statusText")], None).await,
        &everything,
    );

    // statusText follows the catalog's message text.
    let reply = app.put("/1.1/status_messages/At%20Lunch", r#"{"message_text": "Out to lunch"}"#).await;
    assert_eq!(reply.status.as_u16(), 204, "{}", reply.body);
    let reply = directory(app, all, &[("select", "statusText"), ("where", "configurationId.id eq asmith")], None).await;
    assert_all(&reply, &[item_with("asmith", "ann Smith", &json!({"statusText": "Out to lunch"}))]);
}

#[tokio::test]
async fn where_keeps_the_users_that_satisfy_every_condition() {
    let world = Directory::new().await;
    let (app, all) = (&world.app, &world.all);
    let list = |ids: &[&str]| -> Vec<Value> {
        everyone()
            .into_iter()
            .filter(|i| ids.contains(&i["configurationId"]["id"].as_str().unwrap_or_default()))
            .collect()
    };
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case; 16] = [
        (&[("where", "configurationId.id sw b")], &["bob1", "bob2"]),
        (&[("where", "configurationId.id sw B")], &["bob1", "bob2"]),
        (&[("where", "configurationId.id eq JDOE")], &["jdoe"]),
        (&[("where", "configurationId.id eq jdo")], &[]),
        (&[("where", "configurationId.id ct .")], &["carl.self"]),
        (&[("where", "displayName ct DOE")], &["dana", "jdoe"]),
        (&[("where", "displayName eq bob brown")], &["bob1", "bob2"]),
        (&[("where", "configurationId.displayName sw c")], &["carl.self"]),
        (&[("where", "displayName ct o, configurationId.id sw b")], &["bob1", "bob2"]),
        (&[("where", "displayName ct o"), ("where", "configurationId.id ct 2")], &["bob2"]),
        (&[("where", "extension sw 1")], &["jdoe"]),
        (&[("where", "extension eq 2002")], &["carl.self"]),
        (&[("where", "statusText eq at lunch")], &["asmith"]),
        (&[("where", "statusText SW avail, displayName CT smith")], &[]),
        (&[("where", "")], &["asmith", "bob1", "bob2", "carl.self", "dana", "jdoe"]),
        (&[("where", " configurationId.id  sw  b ,")], &["bob1", "bob2"]),
    ];
    for (query, ids) in cases {
        let reply = directory(app, all, query, None).await;
        assert_eq!(reply.status.as_u16(), 200, "{query:?}: {}", reply.body);
        assert_eq!(reply.json(), json!({"items": list(ids)}), "{query:?}");
    }
    // A condition on a member does not select it.
    let reply = directory(app, all, &[("where", "extension ct 0")], None).await;
    assert_all(&reply, &list(&["bob2", "carl.self", "jdoe"]));
    // The where clause at its longest.
    let longest = format!("displayName ct {}", "o".repeat(1024 - "displayName ct ".len()));
    assert_all(&directory(app, all, &[("where", &longest)], None).await, &[]);
}

#[tokio::test]
async fn a_where_or_select_the_server_cannot_apply_is_refused() {
    let world = Directory::new().await;
    let (app, all) = (&world.app, &world.all);
    let too_long = format!("displayName ct {}", "o".repeat(1025 - "displayName ct ".len()));
    let too_many = ["displayName ct o"; 17].join(",");
    for bad in [
        "ntDomainUser eq x",
        "configurationId eq jdoe",
        "id sw j",
        "displayName lt x",
        "configurationId.id = jdoe",
        "displayName",
        "displayName ct o, foo",
        too_long.as_str(),
        too_many.as_str(),
    ] {
        assert_invalid(&directory(app, all, &[("where", bad)], None).await, "where");
    }
    // 17 conditions over two parameters.
    let (nine, eight) = (["displayName ct o"; 9].join(","), ["displayName ct o"; 8].join(","));
    assert_invalid(&directory(app, all, &[("where", &nine), ("where", &eight)], None).await, "where");
    let sixteen = ["displayName ct o"; 16].join(",");
    assert_eq!(directory(app, all, &[("where", &sixteen)], None).await.status.as_u16(), 200);

    assert_invalid(&directory(app, all, &[("select", &"x,".repeat(513))], None).await, "select");
    assert_eq!(directory(app, all, &[("select", &"x,".repeat(512))], None).await.status.as_u16(), 200);
}

#[tokio::test]
async fn a_view_self_session_sees_only_itself() {
    let world = Directory::new().await;
    let (app, own) = (&world.app, &world.own);
    let carl = item("carl.self", "Carl Self");
    assert_all(&directory(app, own, &[], None).await, std::slice::from_ref(&carl));
    let everything = item_with(
        "carl.self",
        "Carl Self",
        &json!({"displayName": "Carl Self", "extension": "2002", "statusText": "Available"}),
    );
    assert_all(&directory(app, own, &[("select", "*")], None).await, std::slice::from_ref(&everything));
    // Conditions that others satisfy find nobody.
    for condition in ["configurationId.id sw b", "displayName ct doe", "extension eq 1001", "statusText eq At Lunch"] {
        assert_all(&directory(app, own, &[("where", condition)], None).await, &[]);
    }
    assert_all(
        &directory(app, own, &[("where", "configurationId.id ct self")], None).await,
        std::slice::from_ref(&carl),
    );
    // Pages of a list of one.
    assert_page(&directory(app, own, &[], Some("items=0-199")).await, "items 0-0/1", std::slice::from_ref(&carl));
    assert_page(&directory(app, own, &[("select", "*")], Some("items=-5")).await, "items 0-0/1", &[everything]);
    assert_unsatisfiable(&directory(app, own, &[], Some("items=1-199")).await, 1);
    // Another user's name in a condition and a range: still nothing of them.
    let reply = directory(app, own, &[("where", "configurationId.id eq jdoe")], Some("items=0-9")).await;
    assert_all(&reply, &[]);
    let reply = directory(app, own, &[("where", "configurationId.id eq jdoe")], Some("items=1-9")).await;
    assert_unsatisfiable(&reply, 0);
}

/// 26 users: `jdoe` (the viewer, "John Doe") and `user00` … `user24` ("Agent 00" … "Agent 24"),
/// every third of them with a line.
async fn crowd() -> (TestApp, IcwsLogin, Vec<Value>) {
    let app = TestApp::spawn().await;
    user(&app, Some("jdoe"), "John", "Doe", Some(1)).await;
    let mut items = Vec::new();
    for n in 0..25 {
        let id = format!("user{n:02}");
        let name = format!("Agent {n:02}");
        let user_id = user(&app, Some(&id), "Agent", &format!("{n:02}"), None).await;
        if n % 3 == 0 {
            let number = format!("{}", 4000 + n);
            line(&app, user_id, &format!("line{n:02}"), Some(&number)).await;
            items.push(item_with(&id, &name, &json!({"extension": number})));
        } else {
            items.push(item(&id, &name));
        }
    }
    items.push(item("jdoe", "John Doe"));
    let login = app.icws_login("jdoe", PASSWORD).await;
    (app, login, items)
}

#[tokio::test]
async fn items_ranges_page_through_the_directory() {
    let (app, login, with_extensions) = crowd().await;
    let plain: Vec<Value> = with_extensions
        .iter()
        .map(|i| {
            let id = &i["configurationId"];
            item(id["id"].as_str().expect("id"), id["displayName"].as_str().expect("name"))
        })
        .collect();
    assert_eq!(plain.len(), 26);
    assert_all(&directory(&app, &login, &[], None).await, &plain);

    // First page, a middle one, the last partial one, the last item alone.
    assert_page(&directory(&app, &login, &[], Some("items=0-9")).await, "items 0-9/26", &plain[0..10]);
    assert_page(&directory(&app, &login, &[], Some("items=10-19")).await, "items 10-19/26", &plain[10..20]);
    assert_page(&directory(&app, &login, &[], Some("items=20-29")).await, "items 20-25/26", &plain[20..26]);
    assert_page(&directory(&app, &login, &[], Some("items=25-25")).await, "items 25-25/26", &plain[25..]);
    // The whole list asked for as a range is still a page.
    assert_page(&directory(&app, &login, &[], Some("items=0-199")).await, "items 0-25/26", &plain);
    // Open-ended and suffix ranges; blanks and the unit's case do not matter.
    assert_page(&directory(&app, &login, &[], Some("items=24-")).await, "items 24-25/26", &plain[24..]);
    assert_page(&directory(&app, &login, &[], Some("items=-3")).await, "items 23-25/26", &plain[23..]);
    assert_page(&directory(&app, &login, &[], Some(" Items = 1 - 2 ")).await, "items 1-2/26", &plain[1..3]);
    // Beyond the end.
    for range in ["items=26-30", "items=26-", "items=100-199", "items=-0"] {
        assert_unsatisfiable(&directory(&app, &login, &[], Some(range)).await, 26);
    }
    // Malformed items ranges.
    for range in ["items=", "items", "items=5-2", "items=a-b", "items=0-1,3-4", "items=-", "items=1", "items=0x1-2"] {
        let reply = directory(&app, &login, &[], Some(range)).await;
        reply.assert_icws_error(400, MALFORMED);
        assert_members(&reply.json(), &["errorId", "message"]);
    }

    // Pages of a filtered list count the users that satisfy the conditions.
    let fives = [("where", "configurationId.id ct 5")];
    let (user05, user15) = (plain[5].clone(), plain[15].clone());
    assert_all(&directory(&app, &login, &fives, None).await, &[user05.clone(), user15.clone()]);
    assert_page(&directory(&app, &login, &fives, Some("items=0-0")).await, "items 0-0/2", &[user05]);
    assert_page(&directory(&app, &login, &fives, Some("items=1-9")).await, "items 1-1/2", &[user15]);
    assert_unsatisfiable(&directory(&app, &login, &fives, Some("items=2-9")).await, 2);
    // The first page of an empty list is the whole (empty) list; any other page is beyond it.
    let nobody = [("where", "displayName eq nobody")];
    assert_all(&directory(&app, &login, &nobody, Some("items=0-199")).await, &[]);
    assert_all(&directory(&app, &login, &nobody, Some("items=-10")).await, &[]);
    assert_unsatisfiable(&directory(&app, &login, &nobody, Some("items=5-9")).await, 0);

    // Extensions of a page, and of the whole list (more users than are looked up one by one).
    let select = [("select", "extension")];
    assert_page(&directory(&app, &login, &select, Some("items=0-3")).await, "items 0-3/26", &with_extensions[0..4]);
    assert_page(&directory(&app, &login, &select, Some("items=3-25")).await, "items 3-25/26", &with_extensions[3..]);
    assert_all(&directory(&app, &login, &select, None).await, &with_extensions);
    let extension_pages = [("select", "extension"), ("where", "extension sw 40")];
    let numbered: Vec<Value> = with_extensions.iter().filter(|i| i.get("extension").is_some()).cloned().collect();
    assert_eq!(numbered.len(), 9);
    assert_page(&directory(&app, &login, &extension_pages, Some("items=5-")).await, "items 5-8/9", &numbered[5..]);
}

#[tokio::test]
async fn browser_clients_may_read_the_content_range() {
    let world = Directory::new().await;
    let (app, all) = (&world.app, &world.all);
    let reply = send(
        app.client
            .get(app.url(&format!("/icws/{}/configuration/users", all.session_id)))
            .header("Origin", "http://desk.example")
            .header("Range", "items=0-1")
            .header("ININ-ICWS-CSRF-Token", &all.csrf_token)
            .header("Cookie", &all.cookie),
    )
    .await;
    assert_page(&reply, "items 0-1/6", &everyone()[0..2]);
    assert_eq!(reply.header("access-control-allow-origin"), Some("http://desk.example"));
    let exposed = reply.header_items("access-control-expose-headers");
    assert!(exposed.iter().any(|h| h == "content-range"), "Content-Range not exposed: {exposed:?}");
}
