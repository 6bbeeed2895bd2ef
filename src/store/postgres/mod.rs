//! PostgreSQL backend: a pool of connections, one transaction per operation.
//!
//! It behaves as the SQLite backend does, observably: the same conflicts, the same list
//! orders and search results. To that end:
//! - text is compared and ordered as SQLite's BINARY collation does (`COLLATE "C"`: bytes),
//!   lower-cased as SQLite's `lower()` does (`lower(... COLLATE "C")`: ASCII letters only), and
//!   searched as a plain substring (`strpos`, SQLite's `instr`: no wildcards to escape);
//! - text that PostgreSQL cannot hold (U+0000) is stored escaped (see [`encode`]);
//! - writes that SQLite's single writer serializes and that read before they write (calls,
//!   the next status position) take a transaction-level advisory lock;
//! - new ids follow SQLite's AUTOINCREMENT: a failed insert uses none (see [`Serial`]).

use std::borrow::Cow;
use std::io;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, PgPool, Postgres, QueryBuilder, Row};
use tokio::sync::{mpsc, oneshot};

mod log;
mod tls;

pub use log::PgLog;

use super::events::Event;
use super::{ActiveCall, Conflict, ImportedUser, Store, StoreError, StoreResult, StoredUser};
use crate::domain::auth_token::AuthToken;
use crate::domain::cti_profile::{self, AllowedStatuses, ChangeScope, CtiProfile, CtiProfileFields, ViewScope};
use crate::domain::listing::{Direction, UserListQuery, UserOrder};
use crate::domain::presence::{Until, UserStatus};
use crate::domain::session::Cause;
use crate::domain::status::{self, StatusMessage};
use crate::domain::telephony::{CallEvent, CallRecord, CallState, Line, LineFields, supersedes};
use crate::domain::user::{User, UserFields, username_key};
use crate::domain::webservice_user::WebserviceUser;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const MAX_CONNECTIONS: u32 = 16;
/// How long an operation waits for a connection before failing (the API answers 503).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `open` waits for a server that is not accepting connections yet.
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);

/// First key of ctid's advisory locks ("ctid"); the second names the lock.
const LOCK_SPACE: i32 = 0x6374_6964;
/// Serializes `record_calls`: each reads what is held of a call before it writes.
const CALLS_LOCK: i32 = 1;
/// Serializes `create_status_message`: each reads the last position before it writes.
const CATALOG_LOCK: i32 = 2;

/// A table whose ids are handed out as SQLite's AUTOINCREMENT does: one more than the largest
/// ever used, and a rolled-back insert uses none. A sequence alone would lose the ids of
/// failed inserts (a taken username, an import that fails at row 3), and the next user would
/// not get the id SQLite gives. So the inserting transaction takes the table's lock, reads the
/// last id from the sequence (`BIGSERIAL`'s, kept as the high-water mark), inserts with explicit
/// ids and moves the sequence just before it commits; see [`last_id`] and [`set_last_id`].
#[derive(Debug, Clone, Copy)]
enum Serial {
    Users,
    CtiProfiles,
    Lines,
}

impl Serial {
    fn table(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::CtiProfiles => "cti_profiles",
            Self::Lines => "lines",
        }
    }

    fn lock(self) -> i32 {
        match self {
            Self::Users => 3,
            Self::CtiProfiles => 4,
            Self::Lines => 5,
        }
    }
}

const USER_COLUMNS: &str = "id, firstname, lastname, caller_id, outgoing_caller_id, username, music_on_hold, \
     mobile_phone_number, userfield, timezone, language, description, preprocess_subroutine, cti_profile_id";

const USER_STATUS_COLUMNS: &str = "user_id, status_id, notes, forward_number, until_at, has_date, has_time, \
     status_changed, on_phone, on_phone_changed";

const STATUS_COLUMNS: &str = "status_id, message_text, icon_uri, group_tag, can_have_date, can_have_time, \
     can_have_forward_number, is_do_not_disturb_status, is_selectable_status, is_persistent_status, \
     is_forward_status, is_after_call_work_status, is_acd_status, is_allow_follow_up_status, system_id, built_in";

const PROFILE_COLUMNS: &str = "id, name, view_statuses, change_statuses, all_statuses";

const LINE_COLUMNS: &str = "id, name, protocol, context, number, user_id";

// Constraints whose violations mean something (migrations/postgres/0001_init.sql).
const USERNAME_UNIQUE: &str = "users_username_key";
const USER_PROFILE_FK: &str = "users_cti_profile_fk";
const PROFILE_NAME_UNIQUE: &str = "cti_profiles_name_key";
const STATUS_KEY_UNIQUE: &str = "status_messages_pkey";
const WEBSERVICE_USER_UNIQUE: &str = "webservice_users_pkey";
const LINE_NAME_UNIQUE: &str = "lines_name_unique";
const LINE_USER_FK: &str = "lines_user_fk";

/// A status change waiting for its grouped commit: the status, what caused it (for the event
/// log) and who waits for the outcome.
type StatusWrite = (UserStatus, Option<Cause>, oneshot::Sender<StoreResult<()>>);

/// Most status changes one transaction carries.
const MAX_GROUP: usize = 256;
/// Status changes that may wait for a commit; beyond, savers wait for room.
const STATUS_QUEUE: usize = 8192;

pub struct PgStore {
    pool: PgPool,
    /// Status changes waiting for the next grouped commit.
    statuses: mpsc::Sender<StatusWrite>,
}

impl PgStore {
    /// Connects to the database at `url` (waiting up to 10 s for a server that is starting),
    /// migrates and seeds it.
    pub async fn open(url: &str) -> StoreResult<Self> {
        let (options, tls) = tls::connect_options(url).map_err(StoreError::Config)?;
        if let Err(err) = wait_for_server(&options).await {
            return Err(tls.explain(&err).map_or(StoreError::Backend(err), StoreError::Config));
        }
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        MIGRATOR.run(&pool).await?;
        let (statuses, queue) = mpsc::channel(STATUS_QUEUE);
        tokio::spawn(commit_statuses(pool.clone(), queue));
        let store = Self { pool, statuses };
        store.seed_if_fresh().await?;
        Ok(store)
    }

    /// The connection pool, for what the `Store` trait does not cover.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn seed_if_fresh(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let seeded = sqlx::query("INSERT INTO meta (key, value) VALUES ('seeded', '1') ON CONFLICT DO NOTHING")
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if seeded == 0 {
            return Ok(());
        }
        for (position, status) in status::defaults().iter().enumerate() {
            insert_status(&mut tx, status, i64::try_from(position).unwrap_or(i64::MAX)).await?;
        }
        for (id, profile) in cti_profile::defaults() {
            sqlx::query(
                "INSERT INTO cti_profiles (id, name, name_key, view_statuses, change_statuses, all_statuses) \
                 VALUES ($1, $2, $3, $4, $5, TRUE)",
            )
            .bind(id)
            .bind(encode(&profile.name))
            .bind(encode_owned(profile.name.to_lowercase()))
            .bind(profile.view_statuses.as_str())
            .bind(profile.change_statuses.as_str())
            .execute(&mut *tx)
            .await?;
        }
        // The profiles were given their ids: new ones follow them.
        sqlx::query("SELECT setval(pg_get_serial_sequence('cti_profiles', 'id'), max(id)) FROM cti_profiles")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn profile_statuses(&self, id: i64) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT s.status_id FROM cti_profile_statuses p JOIN status_messages s ON s.status_key = p.status_key \
             WHERE p.cti_profile_id = $1 ORDER BY s.position",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| text(r, "status_id")).collect()
    }

    async fn with_statuses(&self, row: &PgRow) -> StoreResult<CtiProfile> {
        let id: i64 = row.try_get("id")?;
        let all: bool = row.try_get("all_statuses")?;
        let allowed_statuses =
            if all { AllowedStatuses::AllSelectable } else { AllowedStatuses::Only(self.profile_statuses(id).await?) };
        let view: String = row.try_get("view_statuses")?;
        let change: String = row.try_get("change_statuses")?;
        Ok(CtiProfile {
            id,
            fields: CtiProfileFields {
                name: text(row, "name")?,
                allowed_statuses,
                view_statuses: ViewScope::parse(&view).ok_or_else(|| StoreError::Corrupt(view.clone()))?,
                change_statuses: ChangeScope::parse(&change).ok_or_else(|| StoreError::Corrupt(change.clone()))?,
            },
        })
    }
}

/// Tries to connect until the server accepts, for up to [`CONNECT_PATIENCE`]: the server may
/// be starting (refused connections, "the database system is starting up"). Any other error
/// (authentication, missing database, bad options, a TLS failure) fails at once.
async fn wait_for_server(options: &PgConnectOptions) -> Result<(), sqlx::Error> {
    let deadline = Instant::now() + CONNECT_PATIENCE;
    let mut pause = Duration::from_millis(50);
    let mut first = true;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let err = match tokio::time::timeout(left, PgConnection::connect_with(options)).await {
            Ok(Ok(connection)) => {
                let _ = connection.close().await;
                return Ok(());
            }
            Ok(Err(err)) => err,
            Err(_) => {
                return Err(sqlx::Error::Io(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("PostgreSQL did not accept a connection within {} s", CONNECT_PATIENCE.as_secs()),
                )));
            }
        };
        let retryable = match &err {
            sqlx::Error::Io(_) => !tls::is_tls_failure(&err),
            // too_many_connections, cannot_connect_now (starting up, shutting down, recovering)
            sqlx::Error::Database(db) => matches!(db.code().as_deref(), Some("53300" | "57P03")),
            _ => false,
        };
        if !retryable || Instant::now() + pause >= deadline {
            return Err(err);
        }
        if first {
            tracing::info!(error = %err, "PostgreSQL is not accepting connections yet; retrying");
            first = false;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(500));
    }
}

/// The escape of text that PostgreSQL cannot store: U+0000 (which SQLite stores, and ctid
/// accepts in most fields) is written U+0001 U+0001, and U+0001 is written U+0001 U+0002.
/// Other text, nearly all of it, is stored as it is.
///
/// The escape maps each character to a code, and keeps equality (it is injective) and byte
/// order (the codes are ordered as their characters, and none is a prefix of another), so
/// unique constraints, `=` and `ORDER BY ... COLLATE "C"` behave on escaped text as SQLite
/// on the original; ASCII lower-casing commutes with it. Only substring search needs care:
/// see [`push_user_search`].
const ESCAPE: char = '\u{1}';

fn encode(text: &str) -> Cow<'_, str> {
    if !text.contains(['\0', ESCAPE]) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\0' => out.push_str("\u{1}\u{1}"),
            ESCAPE => out.push_str("\u{1}\u{2}"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn encode_owned(text: String) -> String {
    match encode(&text) {
        Cow::Borrowed(_) => text,
        Cow::Owned(escaped) => escaped,
    }
}

fn encode_opt(text: &Option<String>) -> Option<Cow<'_, str>> {
    text.as_deref().map(encode)
}

fn decode(text: String) -> StoreResult<String> {
    if !text.contains(ESCAPE) {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == ESCAPE {
            match chars.next() {
                Some('\u{1}') => out.push('\0'),
                Some('\u{2}') => out.push(ESCAPE),
                _ => return Err(StoreError::Corrupt(format!("badly escaped text {text:?}"))),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn text(row: &PgRow, column: &str) -> StoreResult<String> {
    decode(row.try_get(column)?)
}

fn opt_text(row: &PgRow, column: &str) -> StoreResult<Option<String>> {
    row.try_get::<Option<String>, _>(column)?.map(decode).transpose()
}

/// The constraint a unique or foreign-key violation broke, if `err` is one.
fn violated(err: &sqlx::Error) -> Option<&str> {
    match err {
        sqlx::Error::Database(db) if db.is_unique_violation() || db.is_foreign_key_violation() => db.constraint(),
        _ => None,
    }
}

/// Turns the violation of a constraint named in `rules` into its error, anything else into a
/// backend error.
fn map_violation(err: sqlx::Error, rules: &[(&str, Conflict)]) -> StoreError {
    match violated(&err).and_then(|name| rules.iter().find(|(rule, _)| *rule == name)) {
        Some((_, conflict)) => StoreError::Conflict(*conflict),
        None => StoreError::Backend(err),
    }
}

/// Takes one of ctid's advisory locks until the end of the transaction.
async fn lock(tx: &mut PgConnection, which: i32) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)").bind(LOCK_SPACE).bind(which).execute(tx).await?;
    Ok(())
}

/// The last id of `serial` handed out (0 if none), with the right to hand out the next ones
/// until the transaction ends. Takes the lock first thing: before any write (and so before the
/// event log's lock), so that it can be part of no deadlock.
async fn last_id(tx: &mut PgConnection, serial: Serial) -> StoreResult<i64> {
    lock(tx, serial.lock()).await?;
    let table = serial.table();
    let last: i64 = sqlx::query(&format!(
        "SELECT greatest((SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {table}_id_seq), \
         (SELECT coalesce(max(id), 0) FROM {table}))"
    ))
    .fetch_one(&mut *tx)
    .await?
    .try_get(0)?;
    Ok(last)
}

/// Records `last` as the last id of `serial` handed out: just before the commit, since the
/// sequence does not roll back.
async fn set_last_id(tx: &mut PgConnection, serial: Serial, last: i64) -> StoreResult<()> {
    sqlx::query("SELECT setval(pg_get_serial_sequence($1, 'id'), $2)")
        .bind(serial.table())
        .bind(last)
        .execute(tx)
        .await?;
    Ok(())
}

async fn insert_status(tx: &mut PgConnection, s: &StatusMessage, position: i64) -> StoreResult<()> {
    let query = sqlx::query(
        "INSERT INTO status_messages (status_key, position, status_id, message_text, icon_uri, group_tag, \
         can_have_date, can_have_time, can_have_forward_number, is_do_not_disturb_status, is_selectable_status, \
         is_persistent_status, is_forward_status, is_after_call_work_status, is_acd_status, \
         is_allow_follow_up_status, system_id, built_in) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(encode_owned(s.status_id.to_lowercase()))
    .bind(position)
    .bind(encode(&s.status_id));
    bind_attributes(query, s)
        .bind(s.built_in)
        .execute(tx)
        .await
        .map_err(|e| map_violation(e, &[(STATUS_KEY_UNIQUE, Conflict::StatusIdTaken)]))?;
    Ok(())
}

/// Inserts user `id` (see [`last_id`]) and its initial presence.
async fn insert_user(
    tx: &mut PgConnection,
    id: i64,
    f: &UserFields,
    password_hash: Option<&str>,
    cti_profile_id: Option<i64>,
    now: i64,
) -> StoreResult<()> {
    let query = sqlx::query(
        "INSERT INTO users (firstname, lastname, caller_id, outgoing_caller_id, username, username_key, \
         music_on_hold, mobile_phone_number, userfield, timezone, language, description, \
         preprocess_subroutine, password_hash, cti_profile_id, created_at, id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
    );
    bind_user_fields(query, f)
        .bind(password_hash.map(encode))
        .bind(cti_profile_id)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            map_violation(e, &[(USERNAME_UNIQUE, Conflict::UsernameTaken), (USER_PROFILE_FK, Conflict::ProfileMissing)])
        })?;
    upsert_status(tx, &UserStatus::initial(id, now)).await
}

const UPSERT_STATUS: &str = "INSERT INTO user_statuses (user_id, status_id, notes, forward_number, until_at, \
     has_date, has_time, status_changed, on_phone, on_phone_changed) ";

const UPSERT_STATUS_CONFLICT: &str = " ON CONFLICT (user_id) DO UPDATE SET status_id = excluded.status_id, \
     notes = excluded.notes, forward_number = excluded.forward_number, until_at = excluded.until_at, \
     has_date = excluded.has_date, has_time = excluded.has_time, status_changed = excluded.status_changed, \
     on_phone = excluded.on_phone, on_phone_changed = excluded.on_phone_changed";

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

/// Writes queued status changes, as many as are waiting (up to [`MAX_GROUP`]) in one
/// transaction: one flush to disk and one hold of the event log's lock acknowledge them all.
/// Each change is answered once its group is committed. A user's changes never share a group
/// out of order: the caller holds the user's lock until its change is answered.
async fn commit_statuses(pool: PgPool, mut queue: mpsc::Receiver<StatusWrite>) {
    while let Some(first) = queue.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        match write_group(&pool, &group).await {
            Ok(outcomes) => {
                for ((_, _, done), outcome) in group.into_iter().zip(outcomes) {
                    let _ = done.send(outcome);
                }
            }
            Err(err) => {
                tracing::error!(error = %err, changes = group.len(), "a grouped status commit failed");
                let message = err.to_string();
                for (_, _, done) in group {
                    let _ = done.send(Err(StoreError::GroupCommit(message.clone())));
                }
            }
        }
    }
}

/// One transaction for a group: each change is written only if its user exists (the user row
/// is locked meanwhile, so a concurrent deletion cannot break the foreign key and abort the
/// others), with its event (the status as committed and the request that caused it).
async fn write_group(pool: &PgPool, group: &[StatusWrite]) -> Result<Vec<StoreResult<()>>, sqlx::Error> {
    let sql = format!(
        "{UPSERT_STATUS}SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
         WHERE EXISTS (SELECT 1 FROM users WHERE id = $1 FOR KEY SHARE){UPSERT_STATUS_CONFLICT}"
    );
    let mut tx = pool.begin().await?;
    let mut outcomes = Vec::with_capacity(group.len());
    for (status, cause, _) in group {
        let done = bind_user_status(sqlx::query(&sql), status).execute(&mut *tx).await?;
        if done.rows_affected() > 0 {
            let event = Event::Status { status: status.clone(), cause: cause.clone() };
            log::append(&mut tx, &event).await.map_err(|e| match e {
                StoreError::Backend(err) => err,
                other => sqlx::Error::Protocol(other.to_string()),
            })?;
        }
        outcomes.push(not_found_if_none(done.rows_affected()));
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Binds a status's members, in the column order of [`UPSERT_STATUS`].
fn bind_user_status<'q>(query: PgQuery<'q>, s: &'q UserStatus) -> PgQuery<'q> {
    query
        .bind(s.user_id)
        .bind(encode(&s.status_id))
        .bind(encode_opt(&s.notes))
        .bind(encode_opt(&s.forward_number))
        .bind(s.until.map(|u| u.at))
        .bind(s.until.is_some_and(|u| u.has_date))
        .bind(s.until.is_some_and(|u| u.has_time))
        .bind(s.status_changed)
        .bind(s.on_phone)
        .bind(s.on_phone_changed)
}

async fn upsert_status(tx: &mut PgConnection, s: &UserStatus) -> StoreResult<()> {
    let sql = format!("{UPSERT_STATUS}VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10){UPSERT_STATUS_CONFLICT}");
    bind_user_status(sqlx::query(&sql), s).execute(tx).await?;
    Ok(())
}

/// Binds a user's members, in the column order of the user INSERT and UPDATE.
fn bind_user_fields<'q>(query: PgQuery<'q>, f: &'q UserFields) -> PgQuery<'q> {
    query
        .bind(encode(&f.firstname))
        .bind(encode(&f.lastname))
        .bind(encode(&f.caller_id))
        .bind(encode_opt(&f.outgoing_caller_id))
        .bind(encode_opt(&f.username))
        .bind(f.username_key().map(encode_owned))
        .bind(encode_opt(&f.music_on_hold))
        .bind(encode_opt(&f.mobile_phone_number))
        .bind(encode_opt(&f.userfield))
        .bind(encode_opt(&f.timezone))
        .bind(encode_opt(&f.language))
        .bind(encode_opt(&f.description))
        .bind(encode_opt(&f.preprocess_subroutine))
}

/// Binds a status's editable attributes, in the order of [`STATUS_COLUMNS`] after `status_id`.
fn bind_attributes<'q>(query: PgQuery<'q>, s: &'q StatusMessage) -> PgQuery<'q> {
    query
        .bind(encode(&s.message_text))
        .bind(encode(&s.icon_uri))
        .bind(encode(&s.group_tag))
        .bind(s.can_have_date)
        .bind(s.can_have_time)
        .bind(s.can_have_forward_number)
        .bind(s.is_do_not_disturb_status)
        .bind(s.is_selectable_status)
        .bind(s.is_persistent_status)
        .bind(s.is_forward_status)
        .bind(s.is_after_call_work_status)
        .bind(s.is_acd_status)
        .bind(s.is_allow_follow_up_status)
        .bind(encode(&s.system_id))
}

fn user_status_from_row(row: &PgRow) -> StoreResult<UserStatus> {
    let until_at: Option<i64> = row.try_get("until_at")?;
    Ok(UserStatus {
        user_id: row.try_get("user_id")?,
        status_id: text(row, "status_id")?,
        notes: opt_text(row, "notes")?,
        forward_number: opt_text(row, "forward_number")?,
        until: match until_at {
            Some(at) => Some(Until { at, has_date: row.try_get("has_date")?, has_time: row.try_get("has_time")? }),
            None => None,
        },
        status_changed: row.try_get("status_changed")?,
        on_phone: row.try_get("on_phone")?,
        on_phone_changed: row.try_get("on_phone_changed")?,
    })
}

fn user_from_row(row: &PgRow) -> StoreResult<User> {
    Ok(User {
        id: row.try_get("id")?,
        cti_profile_id: row.try_get("cti_profile_id")?,
        fields: UserFields {
            firstname: text(row, "firstname")?,
            lastname: text(row, "lastname")?,
            caller_id: text(row, "caller_id")?,
            outgoing_caller_id: opt_text(row, "outgoing_caller_id")?,
            username: opt_text(row, "username")?,
            music_on_hold: opt_text(row, "music_on_hold")?,
            mobile_phone_number: opt_text(row, "mobile_phone_number")?,
            userfield: opt_text(row, "userfield")?,
            timezone: opt_text(row, "timezone")?,
            language: opt_text(row, "language")?,
            description: opt_text(row, "description")?,
            preprocess_subroutine: opt_text(row, "preprocess_subroutine")?,
        },
    })
}

fn status_from_row(row: &PgRow) -> StoreResult<StatusMessage> {
    Ok(StatusMessage {
        status_id: text(row, "status_id")?,
        message_text: text(row, "message_text")?,
        icon_uri: text(row, "icon_uri")?,
        group_tag: text(row, "group_tag")?,
        can_have_date: row.try_get("can_have_date")?,
        can_have_time: row.try_get("can_have_time")?,
        can_have_forward_number: row.try_get("can_have_forward_number")?,
        is_do_not_disturb_status: row.try_get("is_do_not_disturb_status")?,
        is_selectable_status: row.try_get("is_selectable_status")?,
        is_persistent_status: row.try_get("is_persistent_status")?,
        is_forward_status: row.try_get("is_forward_status")?,
        is_after_call_work_status: row.try_get("is_after_call_work_status")?,
        is_acd_status: row.try_get("is_acd_status")?,
        is_allow_follow_up_status: row.try_get("is_allow_follow_up_status")?,
        system_id: text(row, "system_id")?,
        built_in: row.try_get("built_in")?,
    })
}

/// SQLite's `instr(lower(coalesce(column, '')), needle) > 0` over the searched columns, with
/// the needle lower-cased by Rust (Unicode) and the columns by SQLite's `lower()` (ASCII only).
///
/// On escaped text (see [`encode`]) a plain substring test is exact unless the escaped needle
/// holds U+0001 or U+0002: only then could it match from the middle of a code (U+0002 alone
/// in the second half of U+0001 U+0002, for instance). Such a needle is searched with a regular
/// expression that only matches it at a code boundary: after an even run of U+0001 that
/// starts the text or follows another character (every other character ends a code).
fn push_user_search(builder: &mut QueryBuilder<'_, Postgres>, query: &UserListQuery) {
    if let Some(search) = &query.search {
        let needle = encode_owned(search.to_lowercase());
        let at_boundary = needle.contains([ESCAPE, '\u{2}']);
        let pattern = at_boundary.then(|| boundary_pattern(&needle));
        builder.push(" WHERE (");
        let columns = ["firstname || ' ' || lastname", "caller_id", "description", "userfield"];
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                builder.push(" OR ");
            }
            let haystack = format!("lower(coalesce({column}, '') COLLATE \"C\")");
            match &pattern {
                Some(pattern) => {
                    builder.push(format!("{haystack} ~ "));
                    builder.push_bind(pattern.clone());
                }
                None => {
                    builder.push(format!("strpos({haystack}, "));
                    builder.push_bind(needle.clone());
                    builder.push(") > 0");
                }
            }
        }
        builder.push(")");
    }
}

/// A PostgreSQL regular expression matching `needle` (escaped text) literally, at a code
/// boundary of the escaped text.
fn boundary_pattern(needle: &str) -> String {
    let mut pattern = String::from("(^|[^\u{1}])(\u{1}\u{1})*");
    for c in needle.chars() {
        // In an ARE, a backslash before a non-alphanumeric character makes it literal.
        if c.is_ascii() && !c.is_ascii_alphanumeric() {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

/// SQLite's `lower()` (ASCII only) and BINARY ordering.
fn order_expression(order: UserOrder) -> &'static str {
    match order {
        UserOrder::Firstname => "lower(firstname COLLATE \"C\")",
        UserOrder::Lastname => "lower(lastname COLLATE \"C\")",
        UserOrder::Fullname => "lower((firstname || ' ' || lastname) COLLATE \"C\")",
        UserOrder::CallerId => "lower(caller_id COLLATE \"C\")",
        UserOrder::Description => "lower(coalesce(description, '') COLLATE \"C\")",
        UserOrder::Userfield => "lower(coalesce(userfield, '') COLLATE \"C\")",
    }
}

/// Begins a read-only transaction whose reads all come from one snapshot.
async fn snapshot(pool: &PgPool) -> StoreResult<sqlx::Transaction<'static, Postgres>> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    Ok(tx)
}

fn not_found_if_none(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

#[async_trait]
impl Store for PgStore {
    async fn list_users(&self, query: &UserListQuery) -> StoreResult<(u64, Vec<User>)> {
        // One snapshot: the total and the page agree.
        let mut tx = snapshot(&self.pool).await?;
        let mut count = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM users");
        push_user_search(&mut count, query);
        let total: i64 = count.build().fetch_one(&mut *tx).await?.try_get(0)?;

        let mut select = QueryBuilder::<Postgres>::new(format!("SELECT {USER_COLUMNS} FROM users"));
        push_user_search(&mut select, query);
        let direction = match query.direction {
            Direction::Asc => "ASC",
            Direction::Desc => "DESC",
        };
        select.push(format!(" ORDER BY {} {direction}, id {direction} LIMIT ", order_expression(query.order)));
        // LIMIT NULL: no limit.
        select.push_bind(query.limit.map(i64::from));
        select.push(" OFFSET ");
        select.push_bind(i64::try_from(query.skip).unwrap_or(i64::MAX));
        let rows = select.build().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        let users = rows.iter().map(user_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((u64::try_from(total).unwrap_or(0), users))
    }

    async fn get_user(&self, id: i64) -> StoreResult<User> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        user_from_row(&row)
    }

    async fn find_user_login(&self, username: &str) -> StoreResult<(User, Option<String>)> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username_key = $1"))
            .bind(encode_owned(username_key(username)))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((user_from_row(&row)?, opt_text(&row, "password_hash")?))
    }

    async fn load_users(&self, after_id: i64, limit: u32) -> StoreResult<Vec<StoredUser>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash, {USER_STATUS_COLUMNS} FROM users \
             LEFT JOIN user_statuses ON user_statuses.user_id = users.id WHERE id > $1 ORDER BY id LIMIT $2"
        ))
        .bind(after_id)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let has_status = row.try_get::<Option<i64>, _>("user_id")?.is_some();
                Ok(StoredUser {
                    user: user_from_row(row)?,
                    password_hash: opt_text(row, "password_hash")?,
                    status: if has_status { Some(user_status_from_row(row)?) } else { None },
                })
            })
            .collect()
    }

    async fn create_user(&self, f: &UserFields, password_hash: Option<&str>, now: i64) -> StoreResult<User> {
        let mut tx = self.pool.begin().await?;
        let id = last_id(&mut tx, Serial::Users).await? + 1;
        insert_user(&mut tx, id, f, password_hash, None, now).await?;
        set_last_id(&mut tx, Serial::Users, id).await?;
        tx.commit().await?;
        Ok(User { id, fields: f.clone(), cti_profile_id: None })
    }

    async fn import_users(&self, rows: &[ImportedUser], now: i64) -> StoreResult<usize> {
        let mut tx = self.pool.begin().await?;
        let mut id = last_id(&mut tx, Serial::Users).await?;
        for (index, row) in rows.iter().enumerate() {
            id += 1;
            insert_user(&mut tx, id, &row.fields, row.password_hash.as_deref(), row.cti_profile_id, now)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(Conflict::UsernameTaken) => {
                        StoreError::Conflict(Conflict::UsernameTakenAt(index))
                    }
                    other => other,
                })?;
        }
        if !rows.is_empty() {
            set_last_id(&mut tx, Serial::Users, id).await?;
        }
        tx.commit().await?;
        Ok(rows.len())
    }

    async fn update_user(
        &self,
        id: i64,
        expected: &UserFields,
        f: &UserFields,
        password_hash: Option<&str>,
    ) -> StoreResult<()> {
        let query = sqlx::query(
            "UPDATE users SET firstname = $1, lastname = $2, caller_id = $3, outgoing_caller_id = $4, \
             username = $5, username_key = $6, music_on_hold = $7, mobile_phone_number = $8, userfield = $9, \
             timezone = $10, language = $11, description = $12, preprocess_subroutine = $13, \
             password_hash = coalesce($14, password_hash) WHERE id = $15 \
             AND firstname IS NOT DISTINCT FROM $16 AND lastname IS NOT DISTINCT FROM $17 \
             AND caller_id IS NOT DISTINCT FROM $18 AND outgoing_caller_id IS NOT DISTINCT FROM $19 \
             AND username IS NOT DISTINCT FROM $20 AND username_key IS NOT DISTINCT FROM $21 \
             AND music_on_hold IS NOT DISTINCT FROM $22 AND mobile_phone_number IS NOT DISTINCT FROM $23 \
             AND userfield IS NOT DISTINCT FROM $24 AND timezone IS NOT DISTINCT FROM $25 \
             AND language IS NOT DISTINCT FROM $26 AND description IS NOT DISTINCT FROM $27 \
             AND preprocess_subroutine IS NOT DISTINCT FROM $28",
        );
        let done = bind_user_fields(bind_user_fields(query, f).bind(password_hash.map(encode)).bind(id), expected)
            .execute(&self.pool)
            .await
            .map_err(|e| map_violation(e, &[(USERNAME_UNIQUE, Conflict::UsernameTaken)]))?;
        if done.rows_affected() > 0 {
            return Ok(());
        }
        let exists = sqlx::query("SELECT 1 FROM users WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        Err(if exists.is_some() { StoreError::Conflict(Conflict::StateChanged) } else { StoreError::NotFound })
    }

    async fn delete_user(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&self.pool).await?;
        not_found_if_none(done.rows_affected())
    }

    async fn set_user_cti_profile(&self, user_id: i64, profile: Option<i64>, expect_none: bool) -> StoreResult<()> {
        let sql = if expect_none {
            "UPDATE users SET cti_profile_id = $1 WHERE id = $2 AND cti_profile_id IS NULL"
        } else {
            "UPDATE users SET cti_profile_id = $1 WHERE id = $2"
        };
        let done = sqlx::query(sql)
            .bind(profile)
            .bind(user_id)
            .execute(&self.pool)
            .await
            .map_err(|e| map_violation(e, &[(USER_PROFILE_FK, Conflict::ProfileMissing)]))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(Conflict::StateChanged));
        }
        Ok(())
    }

    async fn get_user_status(&self, user_id: i64) -> StoreResult<UserStatus> {
        let row = sqlx::query(&format!("SELECT {USER_STATUS_COLUMNS} FROM user_statuses WHERE user_id = $1"))
            .bind(user_id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        user_status_from_row(&row)
    }

    async fn save_user_status(&self, status: &UserStatus, cause: Option<&Cause>) -> StoreResult<()> {
        let (done, outcome) = oneshot::channel();
        self.statuses
            .send((status.clone(), cause.cloned(), done))
            .await
            .map_err(|_| StoreError::GroupCommit("the status writer has stopped".into()))?;
        outcome.await.map_err(|_| StoreError::GroupCommit("the status writer has stopped".into()))?
    }

    async fn list_cti_profiles(&self) -> StoreResult<Vec<CtiProfile>> {
        let rows = sqlx::query(&format!("SELECT {PROFILE_COLUMNS} FROM cti_profiles ORDER BY id"))
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.with_statuses(row).await?);
        }
        Ok(out)
    }

    async fn get_cti_profile(&self, id: i64) -> StoreResult<CtiProfile> {
        let row = sqlx::query(&format!("SELECT {PROFILE_COLUMNS} FROM cti_profiles WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.with_statuses(&row).await
    }

    async fn create_cti_profile(&self, fields: &CtiProfileFields) -> StoreResult<CtiProfile> {
        let mut tx = self.pool.begin().await?;
        let id = last_id(&mut tx, Serial::CtiProfiles).await? + 1;
        sqlx::query(
            "INSERT INTO cti_profiles (id, name, name_key, view_statuses, change_statuses, all_statuses) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(encode(&fields.name))
        .bind(encode_owned(fields.name.to_lowercase()))
        .bind(fields.view_statuses.as_str())
        .bind(fields.change_statuses.as_str())
        .bind(matches!(fields.allowed_statuses, AllowedStatuses::AllSelectable))
        .execute(&mut *tx)
        .await
        .map_err(|e| map_violation(e, &[(PROFILE_NAME_UNIQUE, Conflict::ProfileNameTaken)]))?;
        write_profile_statuses(&mut tx, id, &fields.allowed_statuses).await?;
        set_last_id(&mut tx, Serial::CtiProfiles, id).await?;
        tx.commit().await?;
        Ok(CtiProfile { id, fields: fields.clone() })
    }

    async fn update_cti_profile(&self, id: i64, fields: &CtiProfileFields) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let done = sqlx::query(
            "UPDATE cti_profiles SET name = $1, name_key = $2, view_statuses = $3, change_statuses = $4, \
             all_statuses = $5 WHERE id = $6",
        )
        .bind(encode(&fields.name))
        .bind(encode_owned(fields.name.to_lowercase()))
        .bind(fields.view_statuses.as_str())
        .bind(fields.change_statuses.as_str())
        .bind(matches!(fields.allowed_statuses, AllowedStatuses::AllSelectable))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| map_violation(e, &[(PROFILE_NAME_UNIQUE, Conflict::ProfileNameTaken)]))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM cti_profile_statuses WHERE cti_profile_id = $1").bind(id).execute(&mut *tx).await?;
        write_profile_statuses(&mut tx, id, &fields.allowed_statuses).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn delete_cti_profile(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        let in_use: bool = sqlx::query("SELECT EXISTS (SELECT 1 FROM users WHERE cti_profile_id = $1)")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if in_use {
            return Err(StoreError::Conflict(Conflict::ProfileInUse));
        }
        // A user given the profile since the test above breaks the foreign key.
        let done = sqlx::query("DELETE FROM cti_profiles WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(|e| map_violation(e, &[(USER_PROFILE_FK, Conflict::ProfileInUse)]))?;
        not_found_if_none(done.rows_affected())?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_status_messages(&self) -> StoreResult<Vec<StatusMessage>> {
        let rows = sqlx::query(&format!("SELECT {STATUS_COLUMNS} FROM status_messages ORDER BY position"))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(status_from_row).collect()
    }

    async fn create_status_message(&self, status: &StatusMessage) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        lock(&mut tx, CATALOG_LOCK).await?;
        let position: i64 = sqlx::query("SELECT coalesce(max(position), -1) + 1 FROM status_messages")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        insert_status(&mut tx, status, position).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn update_status_message(&self, s: &StatusMessage) -> StoreResult<()> {
        let query = sqlx::query(
            "UPDATE status_messages SET message_text = $1, icon_uri = $2, group_tag = $3, can_have_date = $4, \
             can_have_time = $5, can_have_forward_number = $6, is_do_not_disturb_status = $7, \
             is_selectable_status = $8, is_persistent_status = $9, is_forward_status = $10, \
             is_after_call_work_status = $11, is_acd_status = $12, is_allow_follow_up_status = $13, \
             system_id = $14 WHERE status_key = $15",
        );
        let done = bind_attributes(query, s).bind(encode_owned(s.status_id.to_lowercase())).execute(&self.pool).await?;
        not_found_if_none(done.rows_affected())
    }

    async fn delete_status_message(&self, status_id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM status_messages WHERE status_key = $1 AND NOT built_in")
            .bind(encode_owned(status_id.to_lowercase()))
            .execute(&self.pool)
            .await?;
        not_found_if_none(done.rows_affected())
    }

    async fn list_webservice_users(&self) -> StoreResult<Vec<WebserviceUser>> {
        let rows = sqlx::query(
            "SELECT username, password_hash, digest_ha1 FROM webservice_users ORDER BY username COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(webservice_user_from_row).collect()
    }

    async fn get_webservice_user(&self, username: &str) -> StoreResult<WebserviceUser> {
        let row = sqlx::query("SELECT username, password_hash, digest_ha1 FROM webservice_users WHERE username = $1")
            .bind(encode(username))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        webservice_user_from_row(&row)
    }

    async fn add_webservice_user(&self, user: &WebserviceUser) -> StoreResult<()> {
        sqlx::query("INSERT INTO webservice_users (username, password_hash, digest_ha1) VALUES ($1, $2, $3)")
            .bind(encode(&user.username))
            .bind(encode(&user.password_hash))
            .bind(encode(&user.digest_ha1))
            .execute(&self.pool)
            .await
            .map_err(|e| map_violation(e, &[(WEBSERVICE_USER_UNIQUE, Conflict::WebserviceUserTaken)]))?;
        Ok(())
    }

    async fn remove_webservice_user(&self, username: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM webservice_users WHERE username = $1")
            .bind(encode(username))
            .execute(&self.pool)
            .await?;
        not_found_if_none(done.rows_affected())
    }

    async fn list_lines(&self, limit: Option<u32>, skip: u64) -> StoreResult<(u64, Vec<Line>)> {
        let mut tx = snapshot(&self.pool).await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM lines").fetch_one(&mut *tx).await?.try_get(0)?;
        let rows = sqlx::query(&format!("SELECT {LINE_COLUMNS} FROM lines ORDER BY id LIMIT $1 OFFSET $2"))
            .bind(limit.map(i64::from))
            .bind(i64::try_from(skip).unwrap_or(i64::MAX))
            .fetch_all(&mut *tx)
            .await?;
        tx.commit().await?;
        let lines = rows.iter().map(line_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((u64::try_from(total).unwrap_or(0), lines))
    }

    async fn get_line(&self, id: i64) -> StoreResult<Line> {
        let row = sqlx::query(&format!("SELECT {LINE_COLUMNS} FROM lines WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        line_from_row(&row)
    }

    async fn find_line(&self, name: &str) -> StoreResult<Line> {
        let row = sqlx::query(&format!("SELECT {LINE_COLUMNS} FROM lines WHERE name = $1"))
            .bind(encode(name))
            .fetch_optional(&self.pool)
            .await?
            .ok_or(StoreError::NotFound)?;
        line_from_row(&row)
    }

    async fn create_line(&self, f: &LineFields) -> StoreResult<Line> {
        let mut tx = self.pool.begin().await?;
        let id = last_id(&mut tx, Serial::Lines).await? + 1;
        sqlx::query("INSERT INTO lines (id, name, protocol, context, number) VALUES ($1, $2, $3, $4, $5)")
            .bind(id)
            .bind(encode(&f.name))
            .bind(encode(&f.protocol))
            .bind(encode(&f.context))
            .bind(encode_opt(&f.number))
            .execute(&mut *tx)
            .await
            .map_err(|e| map_violation(e, &[(LINE_NAME_UNIQUE, Conflict::LineNameTaken)]))?;
        set_last_id(&mut tx, Serial::Lines, id).await?;
        tx.commit().await?;
        Ok(Line { id, fields: f.clone(), user_id: None })
    }

    async fn update_line(&self, id: i64, f: &LineFields) -> StoreResult<()> {
        let done = sqlx::query("UPDATE lines SET name = $1, protocol = $2, context = $3, number = $4 WHERE id = $5")
            .bind(encode(&f.name))
            .bind(encode(&f.protocol))
            .bind(encode(&f.context))
            .bind(encode_opt(&f.number))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(|e| map_violation(e, &[(LINE_NAME_UNIQUE, Conflict::LineNameTaken)]))?;
        not_found_if_none(done.rows_affected())
    }

    async fn delete_line(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM lines WHERE id = $1").bind(id).execute(&self.pool).await?;
        not_found_if_none(done.rows_affected())
    }

    async fn user_lines(&self, user_id: i64) -> StoreResult<Vec<Line>> {
        let rows = sqlx::query(&format!("SELECT {LINE_COLUMNS} FROM lines WHERE user_id = $1 ORDER BY id"))
            .bind(user_id)
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(line_from_row).collect()
    }

    async fn set_line_user(&self, line_id: i64, user: Option<i64>) -> StoreResult<()> {
        let done = match user {
            Some(user_id) => {
                let updated = sqlx::query(
                    "UPDATE lines SET user_id = $1 WHERE id = $2 AND user_id IS NULL \
                     AND EXISTS (SELECT 1 FROM users WHERE id = $1)",
                )
                .bind(user_id)
                .bind(line_id)
                .execute(&self.pool)
                .await;
                match updated {
                    Ok(done) => done.rows_affected(),
                    // The user was deleted after the test above: as if the test had failed.
                    Err(e) if violated(&e) == Some(LINE_USER_FK) => 0,
                    Err(e) => return Err(e.into()),
                }
            }
            None => sqlx::query("UPDATE lines SET user_id = NULL WHERE id = $1")
                .bind(line_id)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        };
        if done > 0 {
            return Ok(());
        }
        let exists = sqlx::query("SELECT 1 FROM lines WHERE id = $1").bind(line_id).fetch_optional(&self.pool).await?;
        Err(if exists.is_some() { StoreError::Conflict(Conflict::StateChanged) } else { StoreError::NotFound })
    }

    async fn record_calls(&self, events: &[(i64, CallEvent)], received_us: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        lock(&mut tx, CALLS_LOCK).await?;
        for (line_id, event) in events {
            let held = sqlx::query("SELECT state, at_us FROM calls WHERE line_id = $1 AND call_id = $2")
                .bind(line_id)
                .bind(encode(&event.call_id))
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| call_record(&row))
                .transpose()?;
            if !supersedes(held, event.state, event.at_us) {
                continue;
            }
            sqlx::query(
                "INSERT INTO calls (line_id, call_id, state, at_us, since_us, seen_us) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (line_id, call_id) DO UPDATE SET state = excluded.state, at_us = excluded.at_us, \
                 seen_us = excluded.seen_us",
            )
            .bind(line_id)
            .bind(encode(&event.call_id))
            .bind(event.state.as_str())
            .bind(event.at_us)
            .bind(event.at_us)
            .bind(received_us)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn active_calls(&self) -> StoreResult<Vec<ActiveCall>> {
        let rows = sqlx::query(
            "SELECT c.line_id, l.name, l.user_id, c.call_id, c.state, c.since_us, c.at_us, c.seen_us FROM calls c \
             JOIN lines l ON l.id = c.line_id WHERE c.state != 'idle' \
             ORDER BY c.at_us, c.line_id, c.call_id COLLATE \"C\"",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                Ok(ActiveCall {
                    line_id: row.try_get("line_id")?,
                    line: text(row, "name")?,
                    user_id: row.try_get("user_id")?,
                    call_id: text(row, "call_id")?,
                    state: CallState::parse(&state)
                        .ok_or_else(|| StoreError::Corrupt(format!("call state {state}")))?,
                    since_us: row.try_get("since_us")?,
                    at_us: row.try_get("at_us")?,
                    seen_us: row.try_get("seen_us")?,
                })
            })
            .collect()
    }

    async fn user_on_phone(&self, user_id: i64) -> StoreResult<bool> {
        let on: bool = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM calls c JOIN lines l ON l.id = c.line_id \
             WHERE l.user_id = $1 AND c.state != 'idle')",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await?
        .try_get(0)?;
        Ok(on)
    }

    async fn purge_ended_calls(&self, before_us: i64) -> StoreResult<()> {
        // No lock: `record_calls` never changes an ended call, so a purge meanwhile is as if
        // it came after.
        sqlx::query("DELETE FROM calls WHERE state = 'idle' AND seen_us < $1")
            .bind(before_us)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn add_auth_token(&self, token: &AuthToken, now_ms: i64) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM auth_tokens WHERE expires_ms < $1").bind(now_ms).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO auth_tokens (token_hash, seed_hash, user_id, source_session, expires_ms) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&token.token_hash)
        .bind(&token.seed_hash)
        .bind(token.user_id)
        .bind(encode(&token.source_session))
        .bind(token.expires_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn take_auth_token(&self, token_hash: &str) -> StoreResult<Option<AuthToken>> {
        let row = sqlx::query(
            "DELETE FROM auth_tokens WHERE token_hash = $1 \
             RETURNING token_hash, seed_hash, user_id, source_session, expires_ms",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| auth_token_from_row(&r)).transpose()
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

fn line_from_row(row: &PgRow) -> StoreResult<Line> {
    Ok(Line {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        fields: LineFields {
            name: text(row, "name")?,
            protocol: text(row, "protocol")?,
            context: text(row, "context")?,
            number: opt_text(row, "number")?,
        },
    })
}

fn call_record(row: &PgRow) -> StoreResult<CallRecord> {
    let state: String = row.try_get("state")?;
    Ok(CallRecord {
        state: CallState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("call state {state}")))?,
        at_us: row.try_get("at_us")?,
    })
}

fn webservice_user_from_row(row: &PgRow) -> StoreResult<WebserviceUser> {
    Ok(WebserviceUser {
        username: text(row, "username")?,
        password_hash: text(row, "password_hash")?,
        digest_ha1: text(row, "digest_ha1")?,
    })
}

async fn write_profile_statuses(tx: &mut PgConnection, id: i64, allowed: &AllowedStatuses) -> StoreResult<()> {
    if let AllowedStatuses::Only(ids) = allowed {
        for status_id in ids {
            sqlx::query(
                "INSERT INTO cti_profile_statuses (cti_profile_id, status_key) VALUES ($1, $2) \
                 ON CONFLICT DO NOTHING",
            )
            .bind(id)
            .bind(encode_owned(status_id.to_lowercase()))
            .execute(&mut *tx)
            .await?;
        }
    }
    Ok(())
}

fn auth_token_from_row(row: &PgRow) -> StoreResult<AuthToken> {
    Ok(AuthToken {
        token_hash: text(row, "token_hash")?,
        seed_hash: text(row, "seed_hash")?,
        user_id: row.try_get("user_id")?,
        source_session: text(row, "source_session")?,
        expires_ms: row.try_get("expires_ms")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_and_keeps_order() {
        let texts = ["", "a", "a\0", "a\u{1}", "a\u{2}", "a\0b", "\u{1}\0\u{1}", "é\0", "\0\0", "\u{2}"];
        for text in texts {
            assert_eq!(decode(encode(text).into_owned()).ok().as_deref(), Some(text));
        }
        for a in texts {
            for b in texts {
                assert_eq!(
                    encode(a).as_bytes().cmp(encode(b).as_bytes()),
                    a.as_bytes().cmp(b.as_bytes()),
                    "{a:?} {b:?}"
                );
            }
        }
        assert!(matches!(encode("plain"), Cow::Borrowed(_)));
        assert!(decode("a\u{1}x".into()).is_err());
    }

    #[test]
    fn the_boundary_pattern_escapes_every_metacharacter() {
        assert_eq!(boundary_pattern("a.b\u{1}\u{1}"), "(^|[^\u{1}])(\u{1}\u{1})*a\\.b\\\u{1}\\\u{1}");
    }
}
