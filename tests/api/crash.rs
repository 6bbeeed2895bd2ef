//! Crash safety: clients stream changes, the server is killed with SIGKILL while requests are
//! in flight, restarted on the same database, and every change it acknowledged is there, with
//! nothing half-applied (SPEC §3 "User status": the change is committed before the 202; §4).
//!
//! Each key (a user's status, an edited user, an association, the next user to create) has a
//! single writer that sends one request at a time. After a restart a key must therefore hold
//! either the last value the server acknowledged or the value of the one request that was
//! still unanswered when the server died (it may or may not have been committed). What the
//! restarted server shows becomes the baseline of the next round: from then on it is durable.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::helpers::*;

const ROUNDS: u64 = 10;
const SEED: u64 = 0x0c71_d5ee_dc0f_fee5;
const PASSWORD: &str = "crash-secret";
const PRESENCE_USERS: [&str; 4] = ["crash-a", "crash-b", "crash-c", "crash-d"];
const EDIT_TARGETS: usize = 2;
const ASSOCIATION_TARGETS: usize = 2;
/// Profiles seeded on a fresh database.
const PROFILES: [i64; 4] = [1, 2, 3, 4];
/// Hang guard for a request or a wait; never reached when the server behaves.
const PATIENCE: Duration = Duration::from_secs(30);

/// splitmix64: a seeded generator, so every run kills at the same offsets.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        let index = usize::try_from(self.below(items.len() as u64)).expect("index");
        items[index]
    }
}

/// One key as its single writer left it.
#[derive(Debug, Clone)]
struct Key<T> {
    /// The last value the server acknowledged (or the value seen after the last restart).
    acked: T,
    /// The value of the request sent and still unanswered when the server died.
    in_flight: Option<T>,
}

impl<T: Clone + PartialEq + Debug> Key<T> {
    fn new(value: T) -> Self {
        Self { acked: value, in_flight: None }
    }

    /// The restarted server shows `seen`: it must be an allowed value; it becomes the baseline.
    #[track_caller]
    fn settle(&mut self, what: &str, seen: T) {
        assert!(
            seen == self.acked || self.in_flight.as_ref() == Some(&seen),
            "{what}: after the restart the server shows {seen:?}, but the last acknowledged value is {:?} \
             and the request in flight at the kill was {:?}",
            self.acked,
            self.in_flight,
        );
        self.acked = seen;
        self.in_flight = None;
    }
}

/// A user's status as far as this test sets it.
#[derive(Debug, Clone, PartialEq)]
struct Presence {
    status_id: String,
    notes: Option<String>,
}

/// A user created through `POST /1.1/users`: what was sent, and its id once known.
#[derive(Debug, Clone)]
struct Created {
    id: i64,
    fields: Value,
}

/// Everything the clients were told, across rounds.
struct Model {
    /// Presence user name → its id and its status key.
    statuses: BTreeMap<&'static str, (i64, Key<Presence>)>,
    /// Edited users: id and the version of their fields.
    edits: Vec<(i64, Key<u64>)>,
    /// Users whose CTI profile association changes.
    associations: Vec<(i64, Key<Option<i64>>)>,
    /// Users created by the create writer and seen or acknowledged.
    created: Vec<Created>,
    /// The creation in flight at the last kill.
    create_in_flight: Option<Value>,
}

impl Model {
    fn fixed_ids(&self) -> impl Iterator<Item = i64> + '_ {
        self.statuses
            .values()
            .map(|(id, _)| *id)
            .chain(self.edits.iter().map(|(id, _)| *id))
            .chain(self.associations.iter().map(|(id, _)| *id))
    }
}

/// The fields of edited user `target` at `version`: all change together in one PUT.
fn edit_fields(target: usize, version: u64) -> Value {
    json!({
        "firstname": format!("Edited{target}"),
        "lastname": format!("Version {version}"),
        "description": format!("target {target} at version {version}"),
        "userfield": format!("v{version}"),
        "mobile_phone_number": format!("{version:08}"),
        "music_on_hold": format!("moh-{version}"),
    })
}

/// The fields of the `n`th user created in `round`.
fn created_fields(round: u64, n: u64) -> Value {
    json!({
        "firstname": format!("Crash{round}"),
        "lastname": format!("Created {n}"),
        "username": format!("crash-r{round}-n{n}"),
        "caller_id": format!("\"Crash {round}-{n}\""),
        "outgoing_caller_id": "anonymous",
        "description": format!("created in round {round} as number {n}"),
        "userfield": format!("r{round}n{n}"),
        "mobile_phone_number": format!("55{round:02}{n:05}"),
        "timezone": "Europe/Paris",
        "language": "fr_FR",
    })
}

/// Whether `user` (a representation) holds every member of `fields`.
fn holds(user: &Value, fields: &Value) -> bool {
    fields.as_object().expect("fields").iter().all(|(name, value)| &user[name] == value)
}

/// What the writers of one round share.
#[derive(Clone)]
struct Writer {
    client: reqwest::Client,
    base: String,
    /// Set just before the SIGKILL: from then on a request may go unanswered.
    killed: Arc<AtomicBool>,
    /// Each writer reports its first acknowledged change here.
    first_ack: mpsc::UnboundedSender<()>,
}

impl Writer {
    fn admin(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base)).basic_auth("admin", Some(ADMIN_PASSWORD))
    }

    /// The whole response, or `None` when the server died before answering.
    async fn send(&self, builder: RequestBuilder) -> Option<Reply> {
        let outcome = async {
            let response = builder.timeout(PATIENCE).send().await?;
            let status = response.status();
            let headers = response.headers().clone();
            let body = response.text().await?;
            Ok::<_, reqwest::Error>(Reply { status, headers, body })
        }
        .await;
        match outcome {
            Ok(reply) => Some(reply),
            Err(error) => {
                assert!(self.killed.load(Ordering::SeqCst), "a request failed while the server was up: {error}");
                None
            }
        }
    }

    fn acknowledged(&self, count: &mut u64) {
        *count += 1;
        if *count == 1 {
            let _ = self.first_ack.send(());
        }
    }
}

/// Sets `user`'s status through its own session until the server dies.
async fn status_writer(
    w: Writer,
    login: IcwsLogin,
    user: &'static str,
    mut key: Key<Presence>,
    mut rng: Rng,
    round: u64,
) -> Key<Presence> {
    let choices: Vec<&str> = SELECTABLE.into_iter().filter(|s| *s != "Available, Forward").collect();
    let mut acks = 0;
    for n in 1.. {
        let next = Presence { status_id: rng.pick(&choices).to_string(), notes: Some(format!("r{round} #{n}")) };
        let body = json!({"statusId": next.status_id, "notes": next.notes});
        key.in_flight = Some(next);
        let request = w
            .client
            .put(format!("{}/icws/{}/status/user-statuses/{user}", w.base, login.session_id))
            .header("ININ-ICWS-CSRF-Token", &login.csrf_token)
            .header("Cookie", &login.cookie)
            .body(body.to_string());
        let Some(reply) = w.send(request).await else { break };
        assert_eq!(reply.status, StatusCode::ACCEPTED, "status of {user}: {}", reply.body);
        key.acked = key.in_flight.take().expect("sent");
        w.acknowledged(&mut acks);
    }
    key
}

/// Creates users until the server dies: the acknowledged ones and the one in flight.
async fn create_writer(w: Writer, round: u64) -> (Vec<Created>, Option<Value>) {
    let mut created = Vec::new();
    let mut acks = 0;
    for n in 1.. {
        let fields = created_fields(round, n);
        let Some(reply) = w.send(w.admin(Method::POST, "/1.1/users").body(fields.to_string())).await else {
            return (created, Some(fields));
        };
        assert_eq!(reply.status, StatusCode::CREATED, "create: {}", reply.body);
        let body = reply.json();
        assert!(holds(&body, &fields), "create answered {body} for {fields}");
        created.push(Created { id: body["id"].as_i64().expect("id"), fields });
        w.acknowledged(&mut acks);
    }
    (created, None)
}

/// Rewrites every field of one user at each step until the server dies.
async fn edit_writer(w: Writer, id: i64, target: usize, mut key: Key<u64>, round: u64) -> Key<u64> {
    let mut acks = 0;
    for n in 1.. {
        let version = round * 1_000_000 + n;
        key.in_flight = Some(version);
        let body = edit_fields(target, version).to_string();
        let Some(reply) = w.send(w.admin(Method::PUT, &format!("/1.1/users/{id}")).body(body)).await else { break };
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "edit of user {id}: {}", reply.body);
        key.acked = key.in_flight.take().expect("sent");
        w.acknowledged(&mut acks);
    }
    key
}

/// Associates, changes and dissociates one user's CTI profile until the server dies.
async fn association_writer(w: Writer, id: i64, mut key: Key<Option<i64>>, mut rng: Rng) -> Key<Option<i64>> {
    let path = format!("/1.1/users/{id}/cti_profile");
    let mut acks = 0;
    loop {
        let (method, next, expected) = match key.acked {
            None => (Method::POST, Some(rng.pick(&PROFILES)), StatusCode::CREATED),
            Some(current) if rng.below(2) == 0 => {
                let others: Vec<i64> = PROFILES.into_iter().filter(|p| *p != current).collect();
                (Method::PUT, Some(rng.pick(&others)), StatusCode::OK)
            }
            Some(_) => (Method::DELETE, None, StatusCode::NO_CONTENT),
        };
        key.in_flight = Some(next);
        let mut request = w.admin(method.clone(), &path);
        if let Some(profile) = next {
            request = request.body(json!({"cti_profile_id": profile}).to_string());
        }
        let Some(reply) = w.send(request).await else { break };
        assert_eq!(reply.status, expected, "{method} {path}: {}", reply.body);
        if let Some(profile) = next {
            assert_eq!(reply.json()["cti_profile_id"], profile, "{method} {path}");
        }
        key.acked = key.in_flight.take().expect("sent");
        w.acknowledged(&mut acks);
    }
    key
}

/// Logs every presence user in (sessions die with the process).
async fn log_in(app: &TestApp) -> BTreeMap<&'static str, IcwsLogin> {
    let mut logins = BTreeMap::new();
    for user in PRESENCE_USERS {
        logins.insert(user, app.icws_login(user, PASSWORD).await);
    }
    logins
}

/// The restarted server against the model; the model then holds what the server shows.
async fn verify(app: &TestApp, login: &IcwsLogin, model: &mut Model, round: u64) {
    // Statuses: the last acknowledged one or the one in flight.
    for (user, (_, key)) in &mut model.statuses {
        let reply = app.icws(Method::GET, login, &format!("/status/user-statuses/{user}"), None).await;
        assert_eq!(reply.status, StatusCode::OK, "status of {user}: {}", reply.body);
        let body = reply.json();
        let seen = Presence {
            status_id: body["statusId"].as_str().expect("statusId").to_string(),
            notes: body["notes"].as_str().map(str::to_string),
        };
        key.settle(&format!("round {round}, status of {user}"), seen);
    }

    // Edited users: every field from one and the same PUT.
    for (target, (id, key)) in model.edits.iter_mut().enumerate() {
        let reply = app.get(&format!("/1.1/users/{id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "user {id}: {}", reply.body);
        let user = reply.json();
        let candidates = std::iter::once(key.acked).chain(key.in_flight);
        let seen = candidates.clone().find(|v| holds(&user, &edit_fields(target, *v))).unwrap_or_else(|| {
            let expected: Vec<Value> = candidates.map(|v| edit_fields(target, v)).collect();
            panic!("round {round}: user {id} is {user}, expected the fields of one of {expected:#?}")
        });
        key.settle(&format!("round {round}, fields of user {id}"), seen);
    }

    // Associations: the last acknowledged state or the one in flight.
    for (id, key) in &mut model.associations {
        let path = format!("/1.1/users/{id}/cti_profile");
        let reply = app.get(&path).await;
        let seen = if reply.status == StatusCode::NOT_FOUND {
            reply.assert_error(404, &[&format!("User with id={id} does not have a CTI profile")]);
            None
        } else {
            assert_eq!(reply.status, StatusCode::OK, "GET {path}: {}", reply.body);
            let body = reply.json();
            assert_eq!(body["user_id"], *id, "{body}");
            Some(body["cti_profile_id"].as_i64().expect("cti_profile_id"))
        };
        key.settle(&format!("round {round}, association of user {id}"), seen);
    }

    // The user list: complete, consistent, and exactly the users clients were told about
    // (plus the one whose creation was in flight, whole or not at all).
    let reply = app.get("/1.1/users").await;
    assert_eq!(reply.status, StatusCode::OK, "list: {}", reply.body);
    let list = reply.json();
    let items = list["items"].as_array().expect("items");
    assert_eq!(list["total"].as_u64(), Some(items.len() as u64), "round {round}: total against items");
    let by_id: BTreeMap<i64, &Value> = items.iter().map(|u| (u["id"].as_i64().expect("id"), u)).collect();
    assert_eq!(by_id.len(), items.len(), "round {round}: an id listed twice");
    if let Some(fields) = model.create_in_flight.take() {
        let same: Vec<&&Value> = by_id.values().filter(|u| u["username"] == fields["username"]).collect();
        assert!(same.len() <= 1, "round {round}: {} users for {}", same.len(), fields["username"]);
        if let Some(user) = same.first() {
            assert!(holds(user, &fields), "round {round}: half-created user {user}, sent {fields}");
            model.created.push(Created { id: user["id"].as_i64().expect("id"), fields });
        }
    }
    let expected: BTreeSet<i64> = model.fixed_ids().chain(model.created.iter().map(|c| c.id)).collect();
    let listed: BTreeSet<i64> = by_id.keys().copied().collect();
    assert_eq!(listed, expected, "round {round}: the users listed against the users acknowledged");

    // Every created user whole: its fields, in the list and alone, and its initial status
    // (written in the same transaction as the user).
    for created in &model.created {
        let id = created.id;
        assert!(holds(by_id[&id], &created.fields), "round {round}: listed {}, sent {}", by_id[&id], created.fields);
        let reply = app.get(&format!("/1.1/users/{id}")).await;
        assert_eq!(reply.status, StatusCode::OK, "user {id}: {}", reply.body);
        assert!(holds(&reply.json(), &created.fields), "round {round}: user {id} is {}", reply.body);
        let username = created.fields["username"].as_str().expect("username");
        let reply = app.icws(Method::GET, login, &format!("/status/user-statuses/{username}"), None).await;
        assert_eq!(reply.status, StatusCode::OK, "status of {username}: {}", reply.body);
        assert_eq!(reply.json()["statusId"], "Available", "round {round}: status of {username}");
    }
}

/// Waits until each of `writers` writers has had a change acknowledged.
async fn first_acks(rx: &mut mpsc::UnboundedReceiver<()>, writers: usize) {
    let all = async {
        for _ in 0..writers {
            if rx.recv().await.is_none() {
                return; // a writer stopped early: its join tells why
            }
        }
    };
    tokio::time::timeout(PATIENCE, all).await.expect("every writer gets a change acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_changes_survive_kill_9_and_nothing_is_half_applied() {
    let dir = tempfile::tempdir().expect("dir");
    let url = database_url(dir.path());
    let mut app = TestApp::spawn_at(&url, &[], &[]).await;

    let mut statuses = BTreeMap::new();
    for user in PRESENCE_USERS {
        let id = app.presence_user(user, PASSWORD, 2).await;
        statuses.insert(user, (id, Key::new(Presence { status_id: "Available".into(), notes: None })));
    }
    let mut edits = Vec::new();
    for target in 0..EDIT_TARGETS {
        edits.push((app.create_user(edit_fields(target, 0)).await, Key::new(0)));
    }
    let mut associations = Vec::new();
    for target in 0..ASSOCIATION_TARGETS {
        associations.push((app.create_user(json!({"firstname": format!("Associated{target}")})).await, Key::new(None)));
    }
    let mut model = Model { statuses, edits, associations, created: Vec::new(), create_in_flight: None };
    let mut logins = log_in(&app).await;
    let mut rng = Rng::new(SEED);

    for round in 1..=ROUNDS {
        let killed = Arc::new(AtomicBool::new(false));
        let (first_ack, mut acks) = mpsc::unbounded_channel();
        // A client of their own: no connection left idle in a pool from an earlier step.
        let client = reqwest::Client::builder().no_proxy().build().expect("client");
        let w = Writer { client, base: app.base(), killed: killed.clone(), first_ack };

        let status_tasks: Vec<JoinHandle<Key<Presence>>> = model
            .statuses
            .iter()
            .map(|(user, (_, key))| {
                let login = logins[user].clone();
                let task = status_writer(w.clone(), login, user, key.clone(), Rng::new(rng.next()), round);
                tokio::spawn(task)
            })
            .collect();
        let edit_tasks: Vec<JoinHandle<Key<u64>>> = model
            .edits
            .iter()
            .enumerate()
            .map(|(target, (id, key))| tokio::spawn(edit_writer(w.clone(), *id, target, key.clone(), round)))
            .collect();
        let association_tasks: Vec<JoinHandle<Key<Option<i64>>>> = model
            .associations
            .iter()
            .map(|(id, key)| tokio::spawn(association_writer(w.clone(), *id, key.clone(), Rng::new(rng.next()))))
            .collect();
        let create_task = tokio::spawn(create_writer(w.clone(), round));
        drop(w);

        first_acks(&mut acks, status_tasks.len() + edit_tasks.len() + association_tasks.len() + 1).await;
        tokio::time::sleep(Duration::from_millis(50 + rng.below(351))).await;
        killed.store(true, Ordering::SeqCst);
        app.kill();

        for (task, (_, key)) in status_tasks.into_iter().zip(model.statuses.values_mut()) {
            *key = task.await.expect("status writer");
        }
        for (task, (_, key)) in edit_tasks.into_iter().zip(&mut model.edits) {
            *key = task.await.expect("edit writer");
        }
        for (task, (_, key)) in association_tasks.into_iter().zip(&mut model.associations) {
            *key = task.await.expect("association writer");
        }
        let (created, in_flight) = create_task.await.expect("create writer");
        model.created.extend(created);
        model.create_in_flight = in_flight;

        app = TestApp::spawn_at(&url, &[], &[]).await;
        logins = log_in(&app).await;
        verify(&app, &logins[PRESENCE_USERS[0]], &mut model, round).await;
    }
}
