//! One store over two SQL dialects.
//!
//! Every query of the store is written once, in this folder, in SQLite's spelling with `?`
//! placeholders, and every row is read once, through [`Columns`]. A backend supplies:
//! - a [`Conn`]: how its connection runs that SQL (PostgreSQL numbers the placeholders, reads
//!   `COLLATE BINARY` as `COLLATE "C"`, and escapes the text it cannot store), and the few
//!   operations the dialects really do differently: new ids, locks, a substring test, the
//!   event append;
//! - a [`Backend`]: its connections, and what a commit does.
//!
//! [`SqlStore`] implements every capability of [`super::Store`] over any backend.

use std::borrow::Cow;
use std::ops::DerefMut;

use async_trait::async_trait;

use super::events::{Event, LoggedEvent};
use super::group_commit::GroupCommit;
use super::{Catalog, Handle, StoreError, StoreResult};

mod accounts;
mod catalog;
pub(crate) mod constraints;
pub(crate) mod history;
pub(crate) mod log;
mod profiles;
mod reports;
mod schedules;
mod schema;
mod statuses;
mod telephony;
mod users;
mod webhooks;

/// A value bound to a `?` placeholder.
#[derive(Debug, Clone)]
pub(crate) enum Value<'a> {
    Int(Option<i64>),
    Flag(bool),
    /// Text as the domain holds it (a backend may store it escaped).
    Text(Option<Cow<'a, str>>),
    /// Text already in the stored form (a pattern over escaped text): bound as it is.
    Stored(String),
}

impl From<i64> for Value<'_> {
    fn from(value: i64) -> Self {
        Self::Int(Some(value))
    }
}

impl From<Option<i64>> for Value<'_> {
    fn from(value: Option<i64>) -> Self {
        Self::Int(value)
    }
}

impl From<bool> for Value<'_> {
    fn from(value: bool) -> Self {
        Self::Flag(value)
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(value: &'a str) -> Self {
        Self::Text(Some(Cow::Borrowed(value)))
    }
}

impl<'a> From<&'a String> for Value<'a> {
    fn from(value: &'a String) -> Self {
        Self::Text(Some(Cow::Borrowed(value)))
    }
}

impl From<String> for Value<'_> {
    fn from(value: String) -> Self {
        Self::Text(Some(Cow::Owned(value)))
    }
}

impl<'a> From<Option<&'a str>> for Value<'a> {
    fn from(value: Option<&'a str>) -> Self {
        Self::Text(value.map(Cow::Borrowed))
    }
}

impl<'a> From<&'a Option<String>> for Value<'a> {
    fn from(value: &'a Option<String>) -> Self {
        Self::Text(value.as_deref().map(Cow::Borrowed))
    }
}

impl From<Option<String>> for Value<'_> {
    fn from(value: Option<String>) -> Self {
        Self::Text(value.map(Cow::Owned))
    }
}

/// How a database gives back the text it stores: as it is (SQLite), or unescaped (PostgreSQL).
pub(crate) trait TextCodec {
    fn decode(stored: String) -> StoreResult<String> {
        Ok(stored)
    }
}

/// The columns of a row, by name, as the domain's types.
pub(crate) trait Columns {
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    fn flag(&self, column: &str) -> StoreResult<bool>;
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
}

impl<R> Columns for R
where
    R: sqlx::Row,
    R::Database: TextCodec,
    for<'c> &'c str: sqlx::ColumnIndex<R>,
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> bool: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    fn int(&self, column: &str) -> StoreResult<i64> {
        Ok(self.try_get(column)?)
    }

    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        Ok(self.try_get(column)?)
    }

    fn flag(&self, column: &str) -> StoreResult<bool> {
        Ok(self.try_get(column)?)
    }

    fn text(&self, column: &str) -> StoreResult<String> {
        R::Database::decode(self.try_get(column)?)
    }

    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        self.try_get::<Option<String>, _>(column)?.map(R::Database::decode).transpose()
    }
}

/// A table whose new ids the store may have to hand out itself (see `postgres::ids`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Serial {
    Users,
    CtiProfiles,
    Lines,
}

impl Serial {
    pub(crate) fn table(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::CtiProfiles => "cti_profiles",
            Self::Lines => "lines",
        }
    }
}

/// A write that reads before it writes, which a database with several writers serializes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    /// `record_calls`: each reads what is held of a call before it writes.
    Calls,
    /// `create_status_message`: each reads the last position before it writes.
    Catalog,
}

/// A connection of one dialect.
#[async_trait]
pub(crate) trait Conn: Send {
    type Row: Columns + Send + Sync;

    /// The `LIMIT ?` value that means no limit.
    const UNLIMITED: Option<i64>;
    /// What a row read in a transaction that goes on to write it must say to keep others from
    /// deleting it meanwhile (a clause ending a `SELECT`).
    const KEY_SHARE: &'static str;
    /// What a row read in a transaction that goes on to change it must say, so that a
    /// concurrent writer of the row waits and then sees the change (a clause ending a `SELECT`).
    const FOR_UPDATE: &'static str;

    /// The rows `sql` returns.
    async fn rows(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Vec<Self::Row>, sqlx::Error>;
    /// The first row `sql` returns, if any.
    async fn row(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Option<Self::Row>, sqlx::Error>;
    /// Runs `sql`; returns how many rows it changed.
    async fn run(&mut self, sql: &str, args: &[Value<'_>]) -> Result<u64, sqlx::Error>;

    /// A condition that `haystack` (lower-cased text) holds `needle` (lower-cased text) as a
    /// plain substring, with the value its one placeholder takes.
    fn contains(haystack: &str, needle: &str) -> (String, Value<'static>);

    /// Takes `lock` until the transaction ends (nothing to take with a single writer).
    async fn lock(&mut self, lock: Lock) -> StoreResult<()>;
    /// The last id of `serial` handed out, with the right to hand out the next ones until the
    /// transaction ends; `None` when the database hands out ids itself (an insert then gives
    /// the id `NULL`).
    async fn last_id(&mut self, serial: Serial) -> StoreResult<Option<i64>>;
    /// Records `last` as the last id of `serial` handed out, just before the commit.
    async fn set_last_id(&mut self, serial: Serial, last: i64) -> StoreResult<()>;
    /// Appends `event` to the log in this transaction; returns its number.
    async fn append(&mut self, event: &Event) -> StoreResult<i64>;
    /// Appends `events`, in order, in one statement; returns their numbers.
    async fn append_all(&mut self, events: &[Event]) -> StoreResult<Vec<i64>>;
}

/// The connections of one database, and what committing there involves.
#[async_trait]
pub(crate) trait Backend: Clone + Send + Sync + 'static {
    type Conn: Conn;
    type Pooled: DerefMut<Target = Self::Conn> + Send;
    type Tx: DerefMut<Target = Self::Conn> + Send;

    /// A connection for reads that need not see a write still being committed.
    async fn reader(&self) -> StoreResult<Self::Pooled>;
    /// A connection to write outside a transaction, or to read what was just written.
    async fn writer(&self) -> StoreResult<Self::Pooled>;
    /// A read-only transaction whose reads all come from one snapshot.
    async fn snapshot(&self) -> StoreResult<Self::Tx>;
    async fn begin(&self) -> StoreResult<Self::Tx>;
    /// Commits `tx`, making the events it appended known.
    async fn commit(&self, tx: Self::Tx) -> StoreResult<()>;
    /// Makes known the events a write outside a transaction appended (through triggers).
    async fn logged(&self) -> StoreResult<()>;
    /// Commits a group of status changes whose events are `appended` (see [`Backend::commit`]):
    /// on a store that tells status events apart ([`crate::store::EventLog::barrier`]), only
    /// the head moves; a store may keep the events at hand for the engine.
    async fn commit_statuses(&self, tx: Self::Tx, appended: Vec<LoggedEvent>) -> StoreResult<()> {
        drop(appended);
        self.commit(tx).await
    }
    async fn close(&self);
}

/// The store over the database of `B`.
pub struct SqlStore<B> {
    pub(crate) backend: B,
    /// Status changes waiting for the next grouped commit.
    pub(crate) statuses: GroupCommit,
}

/// The store over `backend`, whose database is migrated: seeds a fresh one and starts the
/// grouped commits of statuses.
pub(crate) async fn start<B: Backend>(backend: B) -> StoreResult<SqlStore<B>> {
    schema::seed_if_fresh(&backend).await?;
    let statuses = GroupCommit::start(statuses::GroupWriter(backend.clone()));
    Ok(SqlStore { backend, statuses })
}

#[async_trait]
impl<B: Backend> Handle for SqlStore<B> {
    async fn ping(&self) -> StoreResult<()> {
        self.list_status_messages().await.map(|_| ())
    }

    async fn close(&self) {
        self.backend.close().await;
    }
}

/// `NotFound` when a write changed nothing.
pub(crate) fn found(rows_affected: u64) -> StoreResult<()> {
    if rows_affected == 0 { Err(StoreError::NotFound) } else { Ok(()) }
}

/// `placeholders(3)` is `?, ?, ?`.
pub(crate) fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}
