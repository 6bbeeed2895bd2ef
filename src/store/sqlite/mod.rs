//! SQLite backend: WAL, one writer connection, a small pool of readers.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteRow, SqliteSynchronous};
use sqlx::{QueryBuilder, Row, Sqlite, SqlitePool};
use tokio::sync::{mpsc, oneshot};

mod log;

pub use log::SqliteLog;

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

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const READERS: u32 = 4;

pub struct SqliteStore {
    writer: SqlitePool,
    reader: SqlitePool,
    /// Status changes waiting for the next grouped commit.
    statuses: mpsc::Sender<StatusWrite>,
    log: SqliteLog,
}

/// A status change waiting for its grouped commit: the status, the request that caused it (for
/// the event log) and who waits for the outcome.
type StatusWrite = (UserStatus, Option<Cause>, oneshot::Sender<StoreResult<()>>);

/// Most status changes one grouped commit carries.
const MAX_GROUP: usize = 512;
/// Status changes that may wait for a commit; beyond, savers wait for room.
const STATUS_QUEUE: usize = 8192;

const USER_COLUMNS: &str = "id, firstname, lastname, caller_id, outgoing_caller_id, username, music_on_hold, \
     mobile_phone_number, userfield, timezone, language, description, preprocess_subroutine, cti_profile_id";

const USER_STATUS_COLUMNS: &str = "user_id, status_id, notes, forward_number, until_at, has_date, has_time, \
     status_changed, on_phone, on_phone_changed";

const STATUS_COLUMNS: &str = "status_id, message_text, icon_uri, group_tag, can_have_date, can_have_time, \
     can_have_forward_number, is_do_not_disturb_status, is_selectable_status, is_persistent_status, \
     is_forward_status, is_after_call_work_status, is_acd_status, is_allow_follow_up_status, system_id, built_in";

impl SqliteStore {
    /// Writes a consistent copy of the database at `database` to the new file `target`, while
    /// other processes go on committing (`VACUUM INTO` reads one snapshot of the database).
    pub async fn backup(database: &Path, target: &Path) -> StoreResult<()> {
        let options =
            SqliteConnectOptions::new().filename(database).read_only(true).busy_timeout(Duration::from_secs(5));
        let mut connection = sqlx::ConnectOptions::connect(&options).await?;
        sqlx::query("VACUUM INTO ?").bind(target.to_string_lossy().as_ref()).execute(&mut connection).await?;
        sqlx::Connection::close(connection).await?;
        Ok(())
    }

    /// Opens (creating if missing) the database at `path`, migrates and seeds it.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(5));
        let writer =
            SqlitePoolOptions::new().max_connections(1).min_connections(1).connect_with(options.clone()).await?;
        MIGRATOR.run(&writer).await?;
        let reader = SqlitePoolOptions::new().max_connections(READERS).connect_with(options.read_only(true)).await?;
        let (statuses, queue) = mpsc::channel(STATUS_QUEUE);
        let log = SqliteLog::new(writer.clone(), reader.clone());
        tokio::spawn(commit_statuses(log.clone(), queue));
        let store = Self { writer, reader, statuses, log };
        store.seed_if_fresh().await?;
        store.log.refresh().await?;
        Ok(store)
    }

    /// The database's event log and session table.
    pub fn log(&self) -> SqliteLog {
        self.log.clone()
    }

    /// Commits `tx` and moves the log's head past the events it appended.
    async fn commit(&self, mut tx: sqlx::Transaction<'_, Sqlite>) -> StoreResult<()> {
        let head = log::Head::read(&mut tx).await?;
        tx.commit().await?;
        self.log.head.advance(head);
        Ok(())
    }

    async fn seed_if_fresh(&self) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let seeded = sqlx::query("INSERT OR IGNORE INTO meta (key, value) VALUES ('seeded', '1')")
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
                 VALUES (?, ?, ?, ?, ?, 1)",
            )
            .bind(id)
            .bind(&profile.name)
            .bind(profile.name.to_lowercase())
            .bind(profile.view_statuses.as_str())
            .bind(profile.change_statuses.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn profile_statuses(&self, id: i64) -> StoreResult<Vec<String>> {
        let rows = sqlx::query(
            "SELECT s.status_id FROM cti_profile_statuses p JOIN status_messages s ON s.status_key = p.status_key \
             WHERE p.cti_profile_id = ? ORDER BY s.position",
        )
        .bind(id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.iter().map(|r| r.get::<String, _>(0)).collect())
    }

    async fn with_statuses(&self, row: &SqliteRow) -> StoreResult<CtiProfile> {
        let id: i64 = row.try_get("id")?;
        let all: bool = row.try_get("all_statuses")?;
        let allowed_statuses =
            if all { AllowedStatuses::AllSelectable } else { AllowedStatuses::Only(self.profile_statuses(id).await?) };
        let view: String = row.try_get("view_statuses")?;
        let change: String = row.try_get("change_statuses")?;
        Ok(CtiProfile {
            id,
            fields: CtiProfileFields {
                name: row.try_get("name")?,
                allowed_statuses,
                view_statuses: ViewScope::parse(&view).ok_or_else(|| StoreError::Corrupt(view.clone()))?,
                change_statuses: ChangeScope::parse(&change).ok_or_else(|| StoreError::Corrupt(change.clone()))?,
            },
        })
    }
}

async fn insert_status(tx: &mut sqlx::SqliteConnection, s: &StatusMessage, position: i64) -> StoreResult<()> {
    let query = sqlx::query(
        "INSERT INTO status_messages (status_key, position, status_id, message_text, icon_uri, group_tag, \
         can_have_date, can_have_time, can_have_forward_number, is_do_not_disturb_status, is_selectable_status, \
         is_persistent_status, is_forward_status, is_after_call_work_status, is_acd_status, \
         is_allow_follow_up_status, system_id, built_in) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(s.status_id.to_lowercase())
    .bind(position)
    .bind(&s.status_id);
    bind_attributes(query, s)
        .bind(s.built_in)
        .execute(tx)
        .await
        .map_err(|e| map_constraint(e, Conflict::StatusIdTaken))?;
    Ok(())
}

/// Inserts a user and its initial presence; returns its id.
async fn insert_user(
    tx: &mut sqlx::SqliteConnection,
    f: &UserFields,
    password_hash: Option<&str>,
    cti_profile_id: Option<i64>,
    now: i64,
) -> StoreResult<i64> {
    let query = sqlx::query(
        "INSERT INTO users (firstname, lastname, caller_id, outgoing_caller_id, username, username_key, \
         music_on_hold, mobile_phone_number, userfield, timezone, language, description, \
         preprocess_subroutine, password_hash, cti_profile_id, created_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
    );
    let id: i64 = bind_user_fields(query, f)
        .bind(password_hash)
        .bind(cti_profile_id)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| map_constraint(e, Conflict::UsernameTaken))?
        .try_get(0)?;
    upsert_status(tx, &UserStatus::initial(id, now)).await?;
    Ok(id)
}

/// Commits status changes in groups: whatever queued while the previous group was being
/// written goes into the next transaction, so one fsync acknowledges many changes. Each
/// change is answered only once its group is on disk, with its event in the log.
async fn commit_statuses(log: SqliteLog, mut queue: mpsc::Receiver<StatusWrite>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while queue.recv_many(&mut group, MAX_GROUP).await > 0 {
        match write_group(&log.writer, &group).await {
            Ok((found, head)) => {
                log.head.advance(head);
                for ((_, _, done), found) in group.drain(..).zip(found) {
                    let _ = done.send(if found { Ok(()) } else { Err(StoreError::NotFound) });
                }
            }
            Err(err) => {
                tracing::error!(error = %err, changes = group.len(), "committing status changes failed");
                let message = err.to_string();
                for (_, _, done) in group.drain(..) {
                    let _ = done.send(Err(StoreError::GroupCommit(message.clone())));
                }
            }
        }
    }
}

/// Writes a group in one transaction; for each change, whether its user still exists; and the
/// number of the last event appended.
async fn write_group(writer: &SqlitePool, group: &[StatusWrite]) -> StoreResult<(Vec<bool>, i64)> {
    let mut tx = writer.begin().await?;
    let mut found = Vec::with_capacity(group.len());
    let mut head = 0;
    for (status, cause, _) in group {
        let exists: bool = sqlx::query("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)")
            .bind(status.user_id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if exists {
            upsert_status(&mut tx, status).await?;
            head = log::append(&mut tx, &Event::Status { status: status.clone(), cause: cause.clone() }).await?;
        }
        found.push(exists);
    }
    tx.commit().await?;
    Ok((found, head))
}

async fn upsert_status(tx: &mut sqlx::SqliteConnection, s: &UserStatus) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO user_statuses (user_id, status_id, notes, forward_number, until_at, has_date, has_time, \
         status_changed, on_phone, on_phone_changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
         ON CONFLICT (user_id) DO UPDATE SET status_id = excluded.status_id, notes = excluded.notes, \
         forward_number = excluded.forward_number, until_at = excluded.until_at, has_date = excluded.has_date, \
         has_time = excluded.has_time, status_changed = excluded.status_changed, on_phone = excluded.on_phone, \
         on_phone_changed = excluded.on_phone_changed",
    )
    .bind(s.user_id)
    .bind(&s.status_id)
    .bind(&s.notes)
    .bind(&s.forward_number)
    .bind(s.until.map(|u| u.at))
    .bind(s.until.is_some_and(|u| u.has_date))
    .bind(s.until.is_some_and(|u| u.has_time))
    .bind(s.status_changed)
    .bind(s.on_phone)
    .bind(s.on_phone_changed)
    .execute(tx)
    .await?;
    Ok(())
}

type SqliteQuery<'q> = sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments<'q>>;

/// Binds a user's members, in the column order of the user INSERT and UPDATE.
fn bind_user_fields<'q>(query: SqliteQuery<'q>, f: &'q UserFields) -> SqliteQuery<'q> {
    query
        .bind(&f.firstname)
        .bind(&f.lastname)
        .bind(&f.caller_id)
        .bind(&f.outgoing_caller_id)
        .bind(&f.username)
        .bind(f.username_key())
        .bind(&f.music_on_hold)
        .bind(&f.mobile_phone_number)
        .bind(&f.userfield)
        .bind(&f.timezone)
        .bind(&f.language)
        .bind(&f.description)
        .bind(&f.preprocess_subroutine)
}

/// Binds a status's editable attributes, in the order of [`STATUS_COLUMNS`] after `status_id`.
fn bind_attributes<'q>(query: SqliteQuery<'q>, s: &'q StatusMessage) -> SqliteQuery<'q> {
    query
        .bind(&s.message_text)
        .bind(&s.icon_uri)
        .bind(&s.group_tag)
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
        .bind(&s.system_id)
}

fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    Ok(User {
        id: row.try_get("id")?,
        cti_profile_id: row.try_get("cti_profile_id")?,
        fields: UserFields {
            firstname: row.try_get("firstname")?,
            lastname: row.try_get("lastname")?,
            caller_id: row.try_get("caller_id")?,
            outgoing_caller_id: row.try_get("outgoing_caller_id")?,
            username: row.try_get("username")?,
            music_on_hold: row.try_get("music_on_hold")?,
            mobile_phone_number: row.try_get("mobile_phone_number")?,
            userfield: row.try_get("userfield")?,
            timezone: row.try_get("timezone")?,
            language: row.try_get("language")?,
            description: row.try_get("description")?,
            preprocess_subroutine: row.try_get("preprocess_subroutine")?,
        },
    })
}

fn user_status_from_row(row: &SqliteRow) -> StoreResult<UserStatus> {
    let until_at: Option<i64> = row.try_get("until_at")?;
    Ok(UserStatus {
        user_id: row.try_get("user_id")?,
        status_id: row.try_get("status_id")?,
        notes: row.try_get("notes")?,
        forward_number: row.try_get("forward_number")?,
        until: match until_at {
            Some(at) => Some(Until { at, has_date: row.try_get("has_date")?, has_time: row.try_get("has_time")? }),
            None => None,
        },
        status_changed: row.try_get("status_changed")?,
        on_phone: row.try_get("on_phone")?,
        on_phone_changed: row.try_get("on_phone_changed")?,
    })
}

fn status_from_row(row: &SqliteRow) -> StoreResult<StatusMessage> {
    Ok(StatusMessage {
        status_id: row.try_get("status_id")?,
        message_text: row.try_get("message_text")?,
        icon_uri: row.try_get("icon_uri")?,
        group_tag: row.try_get("group_tag")?,
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
        system_id: row.try_get("system_id")?,
        built_in: row.try_get("built_in")?,
    })
}

/// Turns a named constraint violation into a conflict, anything else into a backend error.
fn map_constraint(err: sqlx::Error, unique: Conflict) -> StoreError {
    if let sqlx::Error::Database(db) = &err {
        if db.is_unique_violation() {
            return StoreError::Conflict(unique);
        }
        if db.is_foreign_key_violation() {
            return StoreError::Conflict(Conflict::ProfileMissing);
        }
    }
    StoreError::Backend(err)
}

fn push_user_search(builder: &mut QueryBuilder<'_, Sqlite>, query: &UserListQuery) {
    if let Some(search) = &query.search {
        let needle = search.to_lowercase();
        builder.push(" WHERE (");
        let columns = ["firstname || ' ' || lastname", "caller_id", "description", "userfield"];
        for (i, column) in columns.iter().enumerate() {
            if i > 0 {
                builder.push(" OR ");
            }
            builder.push(format!("instr(lower(coalesce({column}, '')), "));
            builder.push_bind(needle.clone());
            builder.push(") > 0");
        }
        builder.push(")");
    }
}

fn order_expression(order: UserOrder) -> &'static str {
    match order {
        UserOrder::Firstname => "lower(firstname)",
        UserOrder::Lastname => "lower(lastname)",
        UserOrder::Fullname => "lower(firstname || ' ' || lastname)",
        UserOrder::CallerId => "lower(caller_id)",
        UserOrder::Description => "lower(coalesce(description, ''))",
        UserOrder::Userfield => "lower(coalesce(userfield, ''))",
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn list_users(&self, query: &UserListQuery) -> StoreResult<(u64, Vec<User>)> {
        // One read transaction: the total and the page come from the same snapshot.
        let mut snapshot = self.reader.begin().await?;
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM users");
        push_user_search(&mut count, query);
        let total: i64 = count.build().fetch_one(&mut *snapshot).await?.try_get(0)?;

        let mut select = QueryBuilder::<Sqlite>::new(format!("SELECT {USER_COLUMNS} FROM users"));
        push_user_search(&mut select, query);
        let direction = match query.direction {
            Direction::Asc => "ASC",
            Direction::Desc => "DESC",
        };
        select.push(format!(" ORDER BY {} {direction}, id {direction} LIMIT ", order_expression(query.order)));
        select.push_bind(query.limit.map_or(-1, i64::from));
        select.push(" OFFSET ");
        select.push_bind(i64::try_from(query.skip).unwrap_or(i64::MAX));
        let rows = select.build().fetch_all(&mut *snapshot).await?;
        snapshot.commit().await?;
        let users = rows.iter().map(user_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((u64::try_from(total).unwrap_or(0), users))
    }

    async fn get_user(&self, id: i64) -> StoreResult<User> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        user_from_row(&row)
    }

    async fn find_user_login(&self, username: &str) -> StoreResult<(User, Option<String>)> {
        let row = sqlx::query(&format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username_key = ?"))
            .bind(username_key(username))
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        Ok((user_from_row(&row)?, row.try_get("password_hash")?))
    }

    async fn load_users(&self, after_id: i64, limit: u32) -> StoreResult<Vec<StoredUser>> {
        let rows = sqlx::query(&format!(
            "SELECT {USER_COLUMNS}, password_hash, {USER_STATUS_COLUMNS} FROM users \
             LEFT JOIN user_statuses ON user_statuses.user_id = users.id WHERE id > ? ORDER BY id LIMIT ?"
        ))
        .bind(after_id)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        rows.iter()
            .map(|row| {
                let has_status = row.try_get::<Option<i64>, _>("user_id")?.is_some();
                Ok(StoredUser {
                    user: user_from_row(row)?,
                    password_hash: row.try_get("password_hash")?,
                    status: if has_status { Some(user_status_from_row(row)?) } else { None },
                })
            })
            .collect()
    }

    async fn create_user(&self, f: &UserFields, password_hash: Option<&str>, now: i64) -> StoreResult<User> {
        let mut tx = self.writer.begin().await?;
        let id = insert_user(&mut tx, f, password_hash, None, now).await?;
        self.commit(tx).await?;
        Ok(User { id, fields: f.clone(), cti_profile_id: None })
    }

    async fn import_users(&self, rows: &[ImportedUser], now: i64) -> StoreResult<usize> {
        let mut tx = self.writer.begin().await?;
        for (index, row) in rows.iter().enumerate() {
            insert_user(&mut tx, &row.fields, row.password_hash.as_deref(), row.cti_profile_id, now).await.map_err(
                |e| match e {
                    StoreError::Conflict(Conflict::UsernameTaken) => {
                        StoreError::Conflict(Conflict::UsernameTakenAt(index))
                    }
                    other => other,
                },
            )?;
        }
        self.commit(tx).await?;
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
            "UPDATE users SET firstname = ?, lastname = ?, caller_id = ?, outgoing_caller_id = ?, username = ?, \
             username_key = ?, music_on_hold = ?, mobile_phone_number = ?, userfield = ?, timezone = ?, \
             language = ?, description = ?, preprocess_subroutine = ?, \
             password_hash = coalesce(?, password_hash) WHERE id = ? AND firstname IS ? AND lastname IS ? \
             AND caller_id IS ? AND outgoing_caller_id IS ? AND username IS ? AND username_key IS ? \
             AND music_on_hold IS ? AND mobile_phone_number IS ? AND userfield IS ? AND timezone IS ? \
             AND language IS ? AND description IS ? AND preprocess_subroutine IS ?",
        );
        let done = bind_user_fields(bind_user_fields(query, f).bind(password_hash).bind(id), expected)
            .execute(&self.writer)
            .await
            .map_err(|e| map_constraint(e, Conflict::UsernameTaken))?;
        if done.rows_affected() > 0 {
            return self.log.refresh().await;
        }
        let exists = sqlx::query("SELECT 1 FROM users WHERE id = ?").bind(id).fetch_optional(&self.writer).await?;
        Err(if exists.is_some() { StoreError::Conflict(Conflict::StateChanged) } else { StoreError::NotFound })
    }

    async fn delete_user(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM users WHERE id = ?").bind(id).execute(&self.writer).await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { self.log.refresh().await }
    }

    async fn set_user_cti_profile(&self, user_id: i64, profile: Option<i64>, expect_none: bool) -> StoreResult<()> {
        let sql = if expect_none {
            "UPDATE users SET cti_profile_id = ? WHERE id = ? AND cti_profile_id IS NULL"
        } else {
            "UPDATE users SET cti_profile_id = ? WHERE id = ?"
        };
        let done = sqlx::query(sql)
            .bind(profile)
            .bind(user_id)
            .execute(&self.writer)
            .await
            .map_err(|e| map_constraint(e, Conflict::ProfileMissing))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::Conflict(Conflict::StateChanged));
        }
        self.log.refresh().await
    }

    async fn get_user_status(&self, user_id: i64) -> StoreResult<UserStatus> {
        let row = sqlx::query(&format!("SELECT {USER_STATUS_COLUMNS} FROM user_statuses WHERE user_id = ?"))
            .bind(user_id)
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        user_status_from_row(&row)
    }

    async fn save_user_status(&self, status: &UserStatus, cause: Option<&Cause>) -> StoreResult<()> {
        let (done, outcome) = oneshot::channel();
        let closed = || StoreError::GroupCommit("the store is closed".into());
        self.statuses.send((status.clone(), cause.cloned(), done)).await.map_err(|_| closed())?;
        outcome.await.map_err(|_| closed())?
    }

    async fn list_cti_profiles(&self) -> StoreResult<Vec<CtiProfile>> {
        let rows = sqlx::query("SELECT * FROM cti_profiles ORDER BY id").fetch_all(&self.reader).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.with_statuses(row).await?);
        }
        Ok(out)
    }

    async fn get_cti_profile(&self, id: i64) -> StoreResult<CtiProfile> {
        let row = sqlx::query("SELECT * FROM cti_profiles WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        self.with_statuses(&row).await
    }

    async fn create_cti_profile(&self, fields: &CtiProfileFields) -> StoreResult<CtiProfile> {
        let mut tx = self.writer.begin().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO cti_profiles (name, name_key, view_statuses, change_statuses, all_statuses) \
             VALUES (?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&fields.name)
        .bind(fields.name.to_lowercase())
        .bind(fields.view_statuses.as_str())
        .bind(fields.change_statuses.as_str())
        .bind(matches!(fields.allowed_statuses, AllowedStatuses::AllSelectable))
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| map_constraint(e, Conflict::ProfileNameTaken))?
        .try_get(0)?;
        write_profile_statuses(&mut tx, id, &fields.allowed_statuses).await?;
        self.commit(tx).await?;
        Ok(CtiProfile { id, fields: fields.clone() })
    }

    async fn update_cti_profile(&self, id: i64, fields: &CtiProfileFields) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let done = sqlx::query(
            "UPDATE cti_profiles SET name = ?, name_key = ?, view_statuses = ?, change_statuses = ?, all_statuses = ? \
             WHERE id = ?",
        )
        .bind(&fields.name)
        .bind(fields.name.to_lowercase())
        .bind(fields.view_statuses.as_str())
        .bind(fields.change_statuses.as_str())
        .bind(matches!(fields.allowed_statuses, AllowedStatuses::AllSelectable))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| map_constraint(e, Conflict::ProfileNameTaken))?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        sqlx::query("DELETE FROM cti_profile_statuses WHERE cti_profile_id = ?").bind(id).execute(&mut *tx).await?;
        write_profile_statuses(&mut tx, id, &fields.allowed_statuses).await?;
        self.commit(tx).await?;
        Ok(())
    }

    async fn delete_cti_profile(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let in_use: bool = sqlx::query("SELECT EXISTS (SELECT 1 FROM users WHERE cti_profile_id = ?)")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        if in_use {
            return Err(StoreError::Conflict(Conflict::ProfileInUse));
        }
        let done = sqlx::query("DELETE FROM cti_profiles WHERE id = ?").bind(id).execute(&mut *tx).await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound);
        }
        self.commit(tx).await?;
        Ok(())
    }

    async fn list_status_messages(&self) -> StoreResult<Vec<StatusMessage>> {
        let rows = sqlx::query(&format!("SELECT {STATUS_COLUMNS} FROM status_messages ORDER BY position"))
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(status_from_row).collect()
    }

    async fn create_status_message(&self, status: &StatusMessage) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        let position: i64 = sqlx::query("SELECT coalesce(max(position), -1) + 1 FROM status_messages")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        insert_status(&mut tx, status, position).await?;
        self.commit(tx).await?;
        Ok(())
    }

    async fn update_status_message(&self, s: &StatusMessage) -> StoreResult<()> {
        let query = sqlx::query(
            "UPDATE status_messages SET message_text = ?, icon_uri = ?, group_tag = ?, can_have_date = ?, \
             can_have_time = ?, can_have_forward_number = ?, is_do_not_disturb_status = ?, is_selectable_status = ?, \
             is_persistent_status = ?, is_forward_status = ?, is_after_call_work_status = ?, is_acd_status = ?, \
             is_allow_follow_up_status = ?, system_id = ? WHERE status_key = ?",
        );
        let done = bind_attributes(query, s).bind(s.status_id.to_lowercase()).execute(&self.writer).await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { self.log.refresh().await }
    }

    async fn delete_status_message(&self, status_id: &str) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM status_messages WHERE status_key = ? AND built_in = 0")
            .bind(status_id.to_lowercase())
            .execute(&self.writer)
            .await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { self.log.refresh().await }
    }

    async fn list_webservice_users(&self) -> StoreResult<Vec<WebserviceUser>> {
        let rows = sqlx::query("SELECT username, password_hash, digest_ha1 FROM webservice_users ORDER BY username")
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(webservice_user_from_row).collect()
    }

    async fn get_webservice_user(&self, username: &str) -> StoreResult<WebserviceUser> {
        let row = sqlx::query("SELECT username, password_hash, digest_ha1 FROM webservice_users WHERE username = ?")
            .bind(username)
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        webservice_user_from_row(&row)
    }

    async fn add_webservice_user(&self, user: &WebserviceUser) -> StoreResult<()> {
        sqlx::query("INSERT INTO webservice_users (username, password_hash, digest_ha1) VALUES (?, ?, ?)")
            .bind(&user.username)
            .bind(&user.password_hash)
            .bind(&user.digest_ha1)
            .execute(&self.writer)
            .await
            .map_err(|e| map_constraint(e, Conflict::WebserviceUserTaken))?;
        Ok(())
    }

    async fn remove_webservice_user(&self, username: &str) -> StoreResult<()> {
        let done =
            sqlx::query("DELETE FROM webservice_users WHERE username = ?").bind(username).execute(&self.writer).await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn list_lines(&self, limit: Option<u32>, skip: u64) -> StoreResult<(u64, Vec<Line>)> {
        let mut snapshot = self.reader.begin().await?;
        let total: i64 = sqlx::query("SELECT COUNT(*) FROM lines").fetch_one(&mut *snapshot).await?.try_get(0)?;
        let rows = sqlx::query(&format!("SELECT {LINE_COLUMNS} FROM lines ORDER BY id LIMIT ? OFFSET ?"))
            .bind(limit.map_or(-1, i64::from))
            .bind(i64::try_from(skip).unwrap_or(i64::MAX))
            .fetch_all(&mut *snapshot)
            .await?;
        snapshot.commit().await?;
        let lines = rows.iter().map(line_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((u64::try_from(total).unwrap_or(0), lines))
    }

    async fn get_line(&self, id: i64) -> StoreResult<Line> {
        let row = sqlx::query(&format!("SELECT {LINE_COLUMNS} FROM lines WHERE id = ?"))
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        line_from_row(&row)
    }

    async fn find_line(&self, name: &str) -> StoreResult<Line> {
        let row = sqlx::query(&format!("SELECT {LINE_COLUMNS} FROM lines WHERE name = ?"))
            .bind(name)
            .fetch_optional(&self.reader)
            .await?
            .ok_or(StoreError::NotFound)?;
        line_from_row(&row)
    }

    async fn create_line(&self, f: &LineFields) -> StoreResult<Line> {
        let id: i64 =
            sqlx::query("INSERT INTO lines (name, protocol, context, number) VALUES (?, ?, ?, ?) RETURNING id")
                .bind(&f.name)
                .bind(&f.protocol)
                .bind(&f.context)
                .bind(&f.number)
                .fetch_one(&self.writer)
                .await
                .map_err(|e| map_constraint(e, Conflict::LineNameTaken))?
                .try_get(0)?;
        Ok(Line { id, fields: f.clone(), user_id: None })
    }

    async fn update_line(&self, id: i64, f: &LineFields) -> StoreResult<()> {
        let done = sqlx::query("UPDATE lines SET name = ?, protocol = ?, context = ?, number = ? WHERE id = ?")
            .bind(&f.name)
            .bind(&f.protocol)
            .bind(&f.context)
            .bind(&f.number)
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(|e| map_constraint(e, Conflict::LineNameTaken))?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn delete_line(&self, id: i64) -> StoreResult<()> {
        let done = sqlx::query("DELETE FROM lines WHERE id = ?").bind(id).execute(&self.writer).await?;
        if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    async fn user_lines(&self, user_id: i64) -> StoreResult<Vec<Line>> {
        let rows = sqlx::query(&format!("SELECT {LINE_COLUMNS} FROM lines WHERE user_id = ? ORDER BY id"))
            .bind(user_id)
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(line_from_row).collect()
    }

    async fn set_line_user(&self, line_id: i64, user: Option<i64>) -> StoreResult<()> {
        let done = match user {
            Some(user_id) => {
                sqlx::query(
                    "UPDATE lines SET user_id = ? WHERE id = ? AND user_id IS NULL \
                     AND EXISTS (SELECT 1 FROM users WHERE id = ?)",
                )
                .bind(user_id)
                .bind(line_id)
                .bind(user_id)
                .execute(&self.writer)
                .await?
            }
            None => {
                sqlx::query("UPDATE lines SET user_id = NULL WHERE id = ?").bind(line_id).execute(&self.writer).await?
            }
        };
        if done.rows_affected() > 0 {
            return Ok(());
        }
        let exists = sqlx::query("SELECT 1 FROM lines WHERE id = ?").bind(line_id).fetch_optional(&self.writer).await?;
        Err(if exists.is_some() { StoreError::Conflict(Conflict::StateChanged) } else { StoreError::NotFound })
    }

    async fn record_calls(&self, events: &[(i64, CallEvent)], received_us: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        for (line_id, event) in events {
            let held = sqlx::query("SELECT state, at_us FROM calls WHERE line_id = ? AND call_id = ?")
                .bind(line_id)
                .bind(&event.call_id)
                .fetch_optional(&mut *tx)
                .await?
                .map(|row| call_record(&row))
                .transpose()?;
            if !supersedes(held, event.state, event.at_us) {
                continue;
            }
            sqlx::query(
                "INSERT INTO calls (line_id, call_id, state, at_us, since_us, seen_us) VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (line_id, call_id) DO UPDATE SET state = excluded.state, at_us = excluded.at_us, \
                 seen_us = excluded.seen_us",
            )
            .bind(line_id)
            .bind(&event.call_id)
            .bind(event.state.as_str())
            .bind(event.at_us)
            .bind(event.at_us)
            .bind(received_us)
            .execute(&mut *tx)
            .await?;
        }
        self.commit(tx).await?;
        Ok(())
    }

    async fn active_calls(&self) -> StoreResult<Vec<ActiveCall>> {
        let rows = sqlx::query(
            "SELECT c.line_id, l.name, l.user_id, c.call_id, c.state, c.since_us, c.at_us, c.seen_us FROM calls c \
             JOIN lines l ON l.id = c.line_id WHERE c.state != 'idle' ORDER BY c.at_us, c.line_id, c.call_id",
        )
        .fetch_all(&self.writer)
        .await?;
        rows.iter()
            .map(|row| {
                let state: String = row.try_get("state")?;
                Ok(ActiveCall {
                    line_id: row.try_get("line_id")?,
                    line: row.try_get("name")?,
                    user_id: row.try_get("user_id")?,
                    call_id: row.try_get("call_id")?,
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
        // Read on the writer: the answer must include the calls just recorded.
        let on: bool = sqlx::query(
            "SELECT EXISTS (SELECT 1 FROM calls c JOIN lines l ON l.id = c.line_id \
             WHERE l.user_id = ? AND c.state != 'idle')",
        )
        .bind(user_id)
        .fetch_one(&self.writer)
        .await?
        .try_get(0)?;
        Ok(on)
    }

    async fn purge_ended_calls(&self, before_us: i64) -> StoreResult<()> {
        sqlx::query("DELETE FROM calls WHERE state = 'idle' AND seen_us < ?")
            .bind(before_us)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    async fn add_auth_token(&self, token: &AuthToken, now_ms: i64) -> StoreResult<()> {
        let mut tx = self.writer.begin().await?;
        sqlx::query("DELETE FROM auth_tokens WHERE expires_ms < ?").bind(now_ms).execute(&mut *tx).await?;
        sqlx::query(
            "INSERT INTO auth_tokens (token_hash, seed_hash, user_id, source_session, expires_ms) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(&token.token_hash)
        .bind(&token.seed_hash)
        .bind(token.user_id)
        .bind(&token.source_session)
        .bind(token.expires_ms)
        .execute(&mut *tx)
        .await?;
        self.commit(tx).await?;
        Ok(())
    }

    async fn take_auth_token(&self, token_hash: &str) -> StoreResult<Option<AuthToken>> {
        let row = sqlx::query(
            "DELETE FROM auth_tokens WHERE token_hash = ? \
             RETURNING token_hash, seed_hash, user_id, source_session, expires_ms",
        )
        .bind(token_hash)
        .fetch_optional(&self.writer)
        .await?;
        row.map(|r| auth_token_from_row(&r)).transpose()
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

const LINE_COLUMNS: &str = "id, name, protocol, context, number, user_id";

fn line_from_row(row: &SqliteRow) -> StoreResult<Line> {
    Ok(Line {
        id: row.try_get("id")?,
        user_id: row.try_get("user_id")?,
        fields: LineFields {
            name: row.try_get("name")?,
            protocol: row.try_get("protocol")?,
            context: row.try_get("context")?,
            number: row.try_get("number")?,
        },
    })
}

fn call_record(row: &SqliteRow) -> StoreResult<CallRecord> {
    let state: String = row.try_get("state")?;
    Ok(CallRecord {
        state: CallState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("call state {state}")))?,
        at_us: row.try_get("at_us")?,
    })
}

fn webservice_user_from_row(row: &SqliteRow) -> StoreResult<WebserviceUser> {
    Ok(WebserviceUser {
        username: row.try_get("username")?,
        password_hash: row.try_get("password_hash")?,
        digest_ha1: row.try_get("digest_ha1")?,
    })
}

async fn write_profile_statuses(
    tx: &mut sqlx::SqliteConnection,
    id: i64,
    allowed: &AllowedStatuses,
) -> StoreResult<()> {
    if let AllowedStatuses::Only(ids) = allowed {
        for status_id in ids {
            sqlx::query("INSERT OR IGNORE INTO cti_profile_statuses (cti_profile_id, status_key) VALUES (?, ?)")
                .bind(id)
                .bind(status_id.to_lowercase())
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

fn auth_token_from_row(row: &SqliteRow) -> StoreResult<AuthToken> {
    Ok(AuthToken {
        token_hash: row.try_get("token_hash")?,
        seed_hash: row.try_get("seed_hash")?,
        user_id: row.try_get("user_id")?,
        source_session: row.try_get("source_session")?,
        expires_ms: row.try_get("expires_ms")?,
    })
}
