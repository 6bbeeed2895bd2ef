//! SQLite backend: WAL, one writer connection, a small pool of readers.

use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

mod dialect;
mod log;

pub use log::SqliteLog;

use super::StoreResult;
use super::events::LoggedEvent;
use super::sql::{self, Backend, SqlStore};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

const READERS: u32 = 4;

/// The store over an SQLite database.
pub type SqliteStore = SqlStore<SqliteBackend>;

/// The connections of an SQLite database: one writer, a few readers, and the event log's head.
#[derive(Clone)]
pub struct SqliteBackend {
    writer: SqlitePool,
    reader: SqlitePool,
    log: SqliteLog,
}

impl SqlStore<SqliteBackend> {
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
        let log = SqliteLog::new(writer.clone(), reader.clone());
        let store = sql::start(SqliteBackend { writer, reader, log }).await?;
        store.backend.log.refresh().await?;
        Ok(store)
    }

    /// The database's event log and session table.
    pub fn log(&self) -> SqliteLog {
        self.backend.log.clone()
    }
}

#[async_trait]
impl Backend for SqliteBackend {
    type Conn = sqlx::SqliteConnection;
    type Pooled = PoolConnection<Sqlite>;
    type Tx = Transaction<'static, Sqlite>;

    async fn reader(&self) -> StoreResult<Self::Pooled> {
        Ok(self.reader.acquire().await?)
    }

    async fn writer(&self) -> StoreResult<Self::Pooled> {
        Ok(self.writer.acquire().await?)
    }

    /// A read transaction on a reader: WAL keeps its snapshot from its first read.
    async fn snapshot(&self) -> StoreResult<Self::Tx> {
        Ok(self.reader.begin().await?)
    }

    async fn begin(&self) -> StoreResult<Self::Tx> {
        Ok(self.writer.begin().await?)
    }

    /// Commits `tx` and moves the log's head past the events it appended (the one writer
    /// knows the head without asking again).
    async fn commit(&self, mut tx: Self::Tx) -> StoreResult<()> {
        let head = super::sql::log::head(&mut *tx).await?;
        tx.commit().await?;
        self.log.head.advance(head);
        Ok(())
    }

    async fn logged(&self) -> StoreResult<()> {
        self.log.refresh().await
    }

    /// The events stay at hand for the engine, which then need not read them back.
    async fn commit_statuses(&self, mut tx: Self::Tx, appended: Vec<LoggedEvent>) -> StoreResult<()> {
        let head = super::sql::log::head(&mut *tx).await?;
        tx.commit().await?;
        self.log.recent.keep(appended);
        self.log.head.advance_statuses(head);
        Ok(())
    }

    async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}
