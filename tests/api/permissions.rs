//! The presence permissions matrix (SPEC §2 `/1.1/cti_profiles`, §3 "User status" and
//! "Messaging"): for each of the four policies a CTI profile may carry (view self/all × change
//! self/all), every presence endpoint that names a user is called on the actor itself, on
//! another user (in two spellings) and on a user that does not exist. Exactly the allowed
//! operations succeed; a refusal is a 403 `error.request.accessDenied` that tells nothing of
//! the other user; and no other user's status reaches a session through its messages.

use std::fmt;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::helpers::*;

const SERVER: &str = "pbx1";
/// How long a message may take to arrive before a test gives up (delivery, not speed).
const WAIT: Duration = Duration::from_secs(10);
/// Between two short polls while waiting for a message.
const POLL_EVERY: Duration = Duration::from_millis(20);

const ACCESS_DENIED: &str = "error.request.accessDenied";
const NOT_FOUND: &str = "error.request.notFound";

const USER_STATUS: &str = "urn:inin.com:status:userStatusMessage";
const COMPLETED: &str = "urn:inin.com:messaging:asyncOperationCompletedMessage";
const ACCESS: &str = "urn:inin.com:status:statusMessagesUserAccessMessage";

const STATUSES_PATH: &str = "/messaging/subscriptions/status/user-statuses";
const ACCESS_PATH: &str = "/messaging/subscriptions/status/status-messages-user-access";

/// The user whose profile is under test.
const ACTOR: &str = "actor";
/// Another user (seeded Agent profile: view all, change self).
const PEER: &str = "peer";
/// Every note the peer ever carries starts with this, so a leak is easy to spot.
const PEER_PRIVATE: &str = "peer-private";

// ---- the table ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    SelfOnly,
    All,
}

impl Scope {
    fn wire(self) -> &'static str {
        match self {
            Self::SelfOnly => "self",
            Self::All => "all",
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Policy {
    view: Scope,
    change: Scope,
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "view {} / change {}", self.view.wire(), self.change.wire())
    }
}

/// The four policies, in the order of [`Case::expect`].
const POLICIES: [Policy; 4] = [
    Policy { view: Scope::SelfOnly, change: Scope::SelfOnly },
    Policy { view: Scope::SelfOnly, change: Scope::All },
    Policy { view: Scope::All, change: Scope::SelfOnly },
    Policy { view: Scope::All, change: Scope::All },
];

/// Whose user id the request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Actor,
    Peer,
    /// The peer, spelled in capitals (user ids match case-insensitively).
    PeerUpper,
    /// A user id nobody has.
    Unknown,
}

impl Target {
    /// As the request spells it.
    fn id(self) -> &'static str {
        match self {
            Self::Actor => ACTOR,
            Self::Peer => PEER,
            Self::PeerUpper => "PEER",
            Self::Unknown => "ghost",
        }
    }

    /// As the server stores it.
    fn stored(self) -> &'static str {
        match self {
            Self::Actor => ACTOR,
            Self::Peer | Self::PeerUpper => PEER,
            Self::Unknown => unreachable!("an unknown user has no stored name"),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Actor => write!(f, "itself ({ACTOR})"),
            Self::Peer => write!(f, "another user ({PEER})"),
            Self::PeerUpper => write!(f, "another user spelled PEER"),
            Self::Unknown => write!(f, "an unknown user (ghost)"),
        }
    }
}

/// Every presence endpoint that takes a user id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    /// `GET /status/user-statuses/{userId}`
    GetStatus,
    /// `PUT /status/user-statuses/{userId}`
    PutStatus,
    /// `GET /status/status-messages-user-access/{userId}`
    GetAccess,
    /// `PUT /messaging/subscriptions/status/user-statuses` with `userIds: [target]`
    SubscribeStatuses,
    /// The same with `userIds: [actor, target]`
    SubscribeStatusesWithSelf,
    /// `PUT /messaging/subscriptions/status/status-messages-user-access` with `userIds: [target]`
    SubscribeAccess,
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::GetStatus => "GET status/user-statuses/{userId}",
            Self::PutStatus => "PUT status/user-statuses/{userId}",
            Self::GetAccess => "GET status/status-messages-user-access/{userId}",
            Self::SubscribeStatuses => "PUT subscriptions/status/user-statuses [target]",
            Self::SubscribeStatusesWithSelf => "PUT subscriptions/status/user-statuses [self, target]",
            Self::SubscribeAccess => "PUT subscriptions/status/status-messages-user-access [target]",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// 200
    Done,
    /// 202
    Accepted,
    /// 403 `error.request.accessDenied`
    Denied,
    /// 404 `error.request.notFound`
    NotFound,
}

use Endpoint::*;
use Outcome::*;
use Target::*;

struct Case {
    endpoint: Endpoint,
    target: Target,
    /// By policy, in the order of [`POLICIES`]: view self/change self, view self/change all,
    /// view all/change self, view all/change all.
    expect: [Outcome; 4],
}

const fn case(endpoint: Endpoint, target: Target, expect: [Outcome; 4]) -> Case {
    Case { endpoint, target, expect }
}

/// What each policy may do. Changing needs viewing too; an unknown user is "not found" only
/// to a session that could view it if it existed, and merely "denied" to a view-self session
/// (which must not learn who exists).
const CASES: [Case; 24] = [
    case(GetStatus, Actor, [Done, Done, Done, Done]),
    case(GetStatus, Peer, [Denied, Denied, Done, Done]),
    case(GetStatus, PeerUpper, [Denied, Denied, Done, Done]),
    case(GetStatus, Unknown, [Denied, Denied, NotFound, NotFound]),
    case(GetAccess, Actor, [Done, Done, Done, Done]),
    case(GetAccess, Peer, [Denied, Denied, Done, Done]),
    case(GetAccess, PeerUpper, [Denied, Denied, Done, Done]),
    case(GetAccess, Unknown, [Denied, Denied, NotFound, NotFound]),
    case(PutStatus, Actor, [Accepted, Accepted, Accepted, Accepted]),
    case(PutStatus, Peer, [Denied, Denied, Denied, Accepted]),
    case(PutStatus, PeerUpper, [Denied, Denied, Denied, Accepted]),
    case(PutStatus, Unknown, [Denied, Denied, NotFound, NotFound]),
    case(SubscribeStatuses, Actor, [Done, Done, Done, Done]),
    case(SubscribeStatuses, Peer, [Denied, Denied, Done, Done]),
    case(SubscribeStatuses, PeerUpper, [Denied, Denied, Done, Done]),
    case(SubscribeStatuses, Unknown, [Denied, Denied, NotFound, NotFound]),
    case(SubscribeStatusesWithSelf, Actor, [Done, Done, Done, Done]),
    case(SubscribeStatusesWithSelf, Peer, [Denied, Denied, Done, Done]),
    case(SubscribeStatusesWithSelf, PeerUpper, [Denied, Denied, Done, Done]),
    case(SubscribeStatusesWithSelf, Unknown, [Denied, Denied, NotFound, NotFound]),
    case(SubscribeAccess, Actor, [Done, Done, Done, Done]),
    case(SubscribeAccess, Peer, [Denied, Denied, Done, Done]),
    case(SubscribeAccess, PeerUpper, [Denied, Denied, Done, Done]),
    case(SubscribeAccess, Unknown, [Denied, Denied, NotFound, NotFound]),
];

// ---- one policy, end to end ----

#[tokio::test]
async fn view_self_change_self() {
    check_policy(0).await;
}

#[tokio::test]
async fn view_self_change_all() {
    check_policy(1).await;
}

#[tokio::test]
async fn view_all_change_self() {
    check_policy(2).await;
}

#[tokio::test]
async fn view_all_change_all() {
    check_policy(3).await;
}

/// The whole matrix for `POLICIES[index]`, then the directory and the messages.
async fn check_policy(index: usize) {
    let world = World::new(POLICIES[index]).await;
    world.check_rights().await;
    for case in &CASES {
        world.check(case, case.expect[index]).await;
    }
    // No refusal was a 401: the session still stands.
    let reply = world.actor_request(Method::GET, "/connection", None).await;
    assert_eq!(reply.status.as_u16(), 200, "{}: the session ended after the matrix: {}", world.policy, reply.body);
    world.check_directory(world.policy.view).await;
    if world.policy.view == Scope::All {
        world.check_peer_deltas_then_demotion().await;
    } else {
        world.check_no_peer_messages().await;
        world.check_unknown_is_indistinguishable().await;
    }
}

/// An app with a profile carrying the policy, the actor (logged in) and the peer (logged in,
/// with private notes).
struct World {
    app: TestApp,
    policy: Policy,
    profile: i64,
    actor: IcwsLogin,
    peer: IcwsLogin,
}

impl World {
    async fn new(policy: Policy) -> Self {
        let app = TestApp::spawn_with(&["--server-name", SERVER], &[]).await;
        let body = json!({
            "name": format!("Matrix {policy}"),
            "view_statuses": policy.view.wire(),
            "change_statuses": policy.change.wire(),
        });
        let reply = app.post("/1.1/cti_profiles", &body.to_string()).await;
        assert_eq!(reply.status.as_u16(), 201, "{policy}: create profile: {}", reply.body);
        let created = reply.json();
        assert_eq!(created["view_statuses"], policy.view.wire(), "{policy}: {created}");
        assert_eq!(created["change_statuses"], policy.change.wire(), "{policy}: {created}");
        let profile = created["id"].as_i64().expect("id");

        app.presence_user(ACTOR, "secret", profile).await;
        app.presence_user(PEER, "secret", 2).await;
        let peer = app.icws_login(PEER, "secret").await;
        let private = json!({"statusId": "Do Not disturb", "notes": format!("{PEER_PRIVATE}: dentist at 3")});
        app.set_status(&peer, PEER, private).await;
        let actor = app.icws_login(ACTOR, "secret").await;
        Self { app, policy, profile, actor, peer }
    }

    async fn actor_request(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let body = body.map(Value::to_string);
        self.app.icws(method, &self.actor, path, body.as_deref()).await
    }

    /// A user's status as that user's own session reads it.
    async fn own_status(&self, target: Target) -> Value {
        let login = if target.stored() == ACTOR { &self.actor } else { &self.peer };
        let path = format!("/status/user-statuses/{}", target.stored());
        let reply = self.app.icws(Method::GET, login, &path, None).await;
        assert_eq!(reply.status.as_u16(), 200, "{} reads itself: {}", target.stored(), reply.body);
        reply.json()
    }

    /// `GET /ctid/session` reports the policy under test.
    async fn check_rights(&self) {
        let reply = self.actor_request(Method::GET, "/ctid/session", None).await;
        assert_eq!(reply.status.as_u16(), 200, "{}: ctid/session: {}", self.policy, reply.body);
        let body = reply.json();
        assert_eq!(body["userId"], ACTOR, "{}: {body}", self.policy);
        assert_eq!(body["viewStatuses"], self.policy.view.wire(), "{}: {body}", self.policy);
        assert_eq!(body["changeStatuses"], self.policy.change.wire(), "{}: {body}", self.policy);
    }

    /// Sends one case's request and checks the answer and what it brought to the actor's
    /// messages.
    async fn check(&self, case: &Case, expected: Outcome) {
        let what = format!("{}: {} on {}", self.policy, case.endpoint, case.target);
        let peer_before = self.own_status(Peer).await;
        let id = case.target.id();
        let reply = match case.endpoint {
            GetStatus => self.actor_request(Method::GET, &format!("/status/user-statuses/{id}"), None).await,
            GetAccess => {
                self.actor_request(Method::GET, &format!("/status/status-messages-user-access/{id}"), None).await
            }
            PutStatus => {
                let body = json!({"statusId": "In a meeting", "notes": notes_set_by_actor(case.target)});
                self.actor_request(Method::PUT, &format!("/status/user-statuses/{id}"), Some(&body)).await
            }
            SubscribeStatuses | SubscribeAccess => {
                let path = if case.endpoint == SubscribeAccess { ACCESS_PATH } else { STATUSES_PATH };
                self.actor_request(Method::PUT, path, Some(&json!({"userIds": [id]}))).await
            }
            SubscribeStatusesWithSelf => {
                self.actor_request(Method::PUT, STATUSES_PATH, Some(&json!({"userIds": [ACTOR, id]}))).await
            }
        };
        let messages = self.app.poll(&self.actor).await;

        match expected {
            Denied | NotFound => {
                let (status, error_id) = if expected == Denied { (403, ACCESS_DENIED) } else { (404, NOT_FOUND) };
                assert_eq!(reply.status.as_u16(), status, "{what}: expected {status}, body: {}", reply.body);
                reply.assert_icws_error(status, error_id);
                assert_keeps_peer_private(&reply, &peer_before, &what);
                assert_eq!(messages, Vec::<Value>::new(), "{what}: a refused request sends no message");
                assert_eq!(self.own_status(Peer).await, peer_before, "{what}: a refused request changes nothing");
            }
            Done | Accepted => {
                let status = if expected == Done { 200 } else { 202 };
                assert_eq!(reply.status.as_u16(), status, "{what}: expected {status}, body: {}", reply.body);
                self.check_success(case, &reply, &messages, &what).await;
            }
        }
    }

    /// What an allowed request answers and brings.
    async fn check_success(&self, case: &Case, reply: &Reply, messages: &[Value], what: &str) {
        let stored = case.target.stored();
        match case.endpoint {
            GetStatus => {
                assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE), "{what}");
                let body = reply.json();
                assert_eq!(body, self.own_status(case.target).await, "{what}: what the user itself reads");
                assert_eq!(body["userId"], stored, "{what}: {body}");
                assert_eq!(messages, Vec::<Value>::new(), "{what}: a GET sends no message");
            }
            GetAccess => {
                assert_eq!(reply.header("content-type"), Some(ICWS_CONTENT_TYPE), "{what}");
                assert_eq!(reply.json(), json!({"userId": stored, "statusMessages": SELECTABLE}), "{what}");
                assert_eq!(messages, Vec::<Value>::new(), "{what}: a GET sends no message");
            }
            PutStatus => {
                let request_id = reply.json()["requestId"].as_str().map(str::to_string);
                let request_id = request_id.unwrap_or_else(|| panic!("{what}: no requestId: {}", reply.body));
                let done = json!({"__type": COMPLETED, "isDelta": false, "requestId": request_id, "error": null});
                assert!(messages.contains(&done), "{what}: no completion in {messages:#?}");
                let now = self.own_status(case.target).await;
                assert_eq!(now["statusId"], "In a meeting", "{what}: {now}");
                assert_eq!(now["notes"], notes_set_by_actor(case.target), "{what}: {now}");
            }
            SubscribeStatuses | SubscribeStatusesWithSelf => {
                assert_eq!(reply.body, "", "{what}: a subscription answers no body");
                let mut expected = vec![stored];
                if case.endpoint == SubscribeStatusesWithSelf && stored != ACTOR {
                    expected.insert(0, ACTOR);
                }
                assert_eq!(messages.len(), 1, "{what}: one full message: {messages:#?}");
                let full = &messages[0];
                assert_eq!(full["__type"], USER_STATUS, "{what}: {full}");
                assert_eq!(full["isDelta"], false, "{what}: {full}");
                let mut listed: Vec<&str> = full["userStatusList"]
                    .as_array()
                    .unwrap_or_else(|| panic!("{what}: no userStatusList: {full}"))
                    .iter()
                    .map(|e| e["userId"].as_str().unwrap_or_default())
                    .collect();
                listed.sort_unstable();
                assert_eq!(listed, expected, "{what}: the users of the full message");
            }
            SubscribeAccess => {
                assert_eq!(reply.body, "", "{what}: a subscription answers no body");
                let expected = json!({"__type": ACCESS, "isDelta": false, "statusMessagesUserAccessChanges": [
                    {"userId": stored, "statusMessagesAdded": SELECTABLE, "statusMessagesRemoved": []}
                ]});
                assert_eq!(messages, [expected], "{what}: the allowed statuses follow");
            }
        }
    }

    /// `GET /configuration/users` lists the actor, and the peer only to a view-all session.
    async fn check_directory(&self, view: Scope) {
        let what = format!("{}: GET configuration/users (profile now view {})", self.policy, view.wire());
        let reply = self.actor_request(Method::GET, "/configuration/users", None).await;
        assert_eq!(reply.status.as_u16(), 200, "{what}: {}", reply.body);
        let body = reply.json();
        let ids: Vec<&str> = body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: no items: {body}"))
            .iter()
            .map(|i| i["configurationId"]["id"].as_str().unwrap_or_default())
            .collect();
        let expected = if view == Scope::All { vec![ACTOR, PEER] } else { vec![ACTOR] };
        assert_eq!(ids, expected, "{what}: {body}");
        if view == Scope::SelfOnly {
            assert!(!reply.body.contains(&format!("\"{PEER}")), "{what}: the peer is listed: {}", reply.body);
        }
    }

    /// A view-self session subscribed to itself hears nothing of the peer, whatever the peer
    /// does: change its status, open another session, log into a station.
    async fn check_no_peer_messages(&self) {
        let what = format!("{}: messages of a session subscribed to itself", self.policy);
        self.app.subscribe(&self.actor, &[ACTOR]).await;
        let refused = json!({"userIds": [ACTOR, PEER]});
        let reply = self.actor_request(Method::PUT, STATUSES_PATH, Some(&refused)).await;
        assert_eq!(reply.status.as_u16(), 403, "{what}: subscribing to the peer too: {}", reply.body);
        let refused = json!({"userIds": [PEER]});
        let reply = self.actor_request(Method::PUT, ACCESS_PATH, Some(&refused)).await;
        assert_eq!(reply.status.as_u16(), 403, "{what}: the peer's allowed statuses: {}", reply.body);

        let peer_change = json!({"statusId": "Gone Home", "notes": format!("{PEER_PRIVATE}: gone fishing")});
        self.app.set_status(&self.peer, PEER, peer_change).await;
        let second = self.app.icws_login(PEER, "secret").await;
        let station = r#"{"__type":"urn:inin.com:connection:workstationSettings","workstation":"7001"}"#;
        let reply = self.app.icws(Method::PUT, &second, "/connection/station", Some(station)).await;
        assert_eq!(reply.status.as_u16(), 200, "{what}: the peer's station login: {}", reply.body);

        let messages = self.messages_until_own_change(&what, "sentinel").await;
        assert_no_peer_data(&messages, &what);
    }

    /// To a view-self session, an unknown user looks exactly like an existing one it may not
    /// view.
    async fn check_unknown_is_indistinguishable(&self) {
        let peer = self.actor_request(Method::GET, &format!("/status/user-statuses/{PEER}"), None).await;
        let ghost = self.actor_request(Method::GET, "/status/user-statuses/ghost", None).await;
        let what = format!("{}: GET status of {PEER} and of ghost", self.policy);
        assert_eq!((peer.status.as_u16(), ghost.status.as_u16()), (403, 403), "{what}: {} / {}", peer.body, ghost.body);
        let peer = peer.json();
        let ghost = ghost.json();
        assert_eq!(peer["errorId"], ghost["errorId"], "{what}");
        let generic = |message: &Value, name: &str| message.as_str().unwrap_or_default().replace(name, "<user>");
        assert_eq!(generic(&peer["message"], PEER), generic(&ghost["message"], "ghost"), "{what}");
    }

    /// A view-all session hears the peer's changes; once the administrator narrows its profile
    /// to `view_statuses: self` it hears no more of them, and the peer is out of reach.
    async fn check_peer_deltas_then_demotion(&self) {
        let what = format!("{}: messages of a session subscribed to itself and the peer", self.policy);
        self.app.subscribe(&self.actor, &[ACTOR, PEER]).await;
        let access = json!({"userIds": [ACTOR, PEER]});
        let reply = self.actor_request(Method::PUT, ACCESS_PATH, Some(&access)).await;
        assert_eq!(reply.status.as_u16(), 200, "{what}: access subscription: {}", reply.body);
        let drained = self.app.poll(&self.actor).await;
        assert_eq!(drained.len(), 2, "{what}: a full message and one access message: {drained:#?}");
        let listed = drained[1]["statusMessagesUserAccessChanges"].as_array().map(Vec::len);
        assert_eq!(listed, Some(2), "{what}: the access message lists both users: {drained:#?}");

        let seen = format!("{PEER_PRIVATE}: seen");
        self.app.set_status(&self.peer, PEER, json!({"statusId": "Gone Home", "notes": seen})).await;
        let messages = self.messages_until_own_change(&what, "sentinel before").await;
        let heard = messages.iter().any(|m| {
            m["__type"] == USER_STATUS
                && m["isDelta"] == true
                && m["userStatusList"].as_array().is_some_and(|l| l.iter().any(|e| e["notes"] == seen.as_str()))
        });
        assert!(heard, "{what}: the peer's change is not delivered: {messages:#?}");
        // The detector the view-self checks rely on does see the peer here.
        assert!(messages.iter().any(mentions_peer), "{what}: the peer is not detected in {messages:#?}");

        let reply = self.app.put(&format!("/1.1/cti_profiles/{}", self.profile), r#"{"view_statuses": "self"}"#).await;
        assert_eq!(reply.status.as_u16(), 204, "{what}: narrowing the profile: {}", reply.body);
        let what = format!("{}, narrowed to view self", self.policy);

        let reply = self.actor_request(Method::GET, &format!("/status/user-statuses/{PEER}"), None).await;
        assert_eq!(reply.status.as_u16(), 403, "{what}: GET status of {PEER}: {}", reply.body);
        reply.assert_icws_error(403, ACCESS_DENIED);
        let body = json!({"statusId": "Available"});
        let reply = self.actor_request(Method::PUT, &format!("/status/user-statuses/{PEER}"), Some(&body)).await;
        assert_eq!(reply.status.as_u16(), 403, "{what}: PUT status of {PEER}: {}", reply.body);
        reply.assert_icws_error(403, ACCESS_DENIED);
        let reply = self.actor_request(Method::GET, &format!("/status/status-messages-user-access/{PEER}"), None).await;
        assert_eq!(reply.status.as_u16(), 403, "{what}: GET access of {PEER}: {}", reply.body);
        self.check_directory(Scope::SelfOnly).await;

        let unseen = json!({"statusId": "At Lunch", "notes": format!("{PEER_PRIVATE}: after the narrowing")});
        self.app.set_status(&self.peer, PEER, unseen).await;
        let second = self.app.icws_login(PEER, "secret").await;
        let reply = self.app.icws(Method::DELETE, &second, "/connection", None).await;
        assert_eq!(reply.status.as_u16(), 200, "{what}: the peer's second session logs out: {}", reply.body);
        let messages = self.messages_until_own_change(&what, "sentinel after").await;
        assert_no_peer_data(&messages, &what);
    }

    /// The actor changes its own status with these notes; its messages up to the completion,
    /// which must include the delta of that change (so delivery did happen).
    async fn messages_until_own_change(&self, what: &str, notes: &str) -> Vec<Value> {
        let request_id = self.app.set_status(&self.actor, ACTOR, json!({"statusId": "At Lunch", "notes": notes})).await;
        let deadline = Instant::now() + WAIT;
        let mut seen = Vec::new();
        loop {
            let batch = self.app.poll(&self.actor).await;
            let done = batch.iter().any(|m| m["__type"] == COMPLETED && m["requestId"] == request_id.as_str());
            seen.extend(batch);
            if done {
                break;
            }
            assert!(Instant::now() < deadline, "{what}: no completion of {request_id} within {WAIT:?}: {seen:#?}");
            tokio::time::sleep(POLL_EVERY).await;
        }
        let own = seen.iter().any(|m| {
            m["__type"] == USER_STATUS
                && m["userStatusList"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|e| e["userId"] == ACTOR && e["notes"] == notes))
        });
        assert!(own, "{what}: the actor's own change is not delivered: {seen:#?}");
        seen
    }
}

/// The notes an allowed PUT of the actor sets on `target`.
fn notes_set_by_actor(target: Target) -> String {
    match target {
        Actor => "set by the actor itself".to_string(),
        _ => format!("{PEER_PRIVATE}: set by the actor"),
    }
}

/// A refusal is exactly `{errorId, message}` and says nothing of the peer's status.
#[track_caller]
fn assert_keeps_peer_private(reply: &Reply, peer: &Value, what: &str) {
    let body = reply.json();
    let mut keys: Vec<&String> = body.as_object().expect("object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["errorId", "message"], "{what}: {body}");
    for secret in [&peer["statusId"], &peer["notes"], &peer["statusChanged"]] {
        let secret = secret.as_str().unwrap_or_else(|| panic!("the peer's status lacks a member: {peer}"));
        assert!(!reply.body.contains(secret), "{what}: the refusal reveals {secret:?}: {}", reply.body);
    }
    assert!(!reply.body.contains(PEER_PRIVATE), "{what}: the refusal reveals the peer's notes: {}", reply.body);
}

/// Does this message name the peer or carry its notes?
fn mentions_peer(message: &Value) -> bool {
    let text = message.to_string();
    text.contains(&format!("\"{PEER}\"")) || text.contains(PEER_PRIVATE)
}

/// No message names the peer or carries its notes.
#[track_caller]
fn assert_no_peer_data(messages: &[Value], what: &str) {
    for message in messages {
        assert!(!mentions_peer(message), "{what}: a message reveals the peer: {message}");
    }
}
