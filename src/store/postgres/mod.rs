//! PostgreSQL backend: a pool of connections, one transaction per operation.
//!
//! It behaves as the SQLite backend does, observably: the same conflicts, the same list
//! orders and search results. To that end:
//! - text is compared and ordered as SQLite's BINARY collation does (`COLLATE "C"`: bytes),
//!   lower-cased as SQLite's `lower()` does (`lower(... COLLATE "C")`: ASCII letters only), and
//!   searched as a plain substring (`strpos`, SQLite's `instr`: no wildcards to escape);
//! - text that PostgreSQL cannot hold (U+0000) is stored escaped (see [`escape`]);
//! - writes that SQLite's single writer serializes and that read before they write (calls,
//!   the next status position) take a transaction-level advisory lock (see [`ids`]);
//! - new ids follow SQLite's AUTOINCREMENT: a failed insert uses none (see [`ids`]).

use std::io;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{Connection, PgConnection, PgPool, Postgres, Transaction};

mod dialect;
mod escape;
mod ids;
mod log;
mod tls;

pub use log::PgLog;

use super::sql::{self, Backend, SqlStore};
use super::{StoreError, StoreResult};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

const MAX_CONNECTIONS: u32 = 16;
/// How long an operation waits for a connection before failing (the API answers 503).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `open` waits for a server that is not accepting connections yet.
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);

/// The store over a PostgreSQL database.
pub type PgStore = SqlStore<PgBackend>;

/// The connection pool of a PostgreSQL database.
#[derive(Clone)]
pub struct PgBackend {
    pool: PgPool,
}

impl SqlStore<PgBackend> {
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
        sql::start(PgBackend { pool }).await
    }

    /// The connection pool, for what the store's traits do not cover.
    pub fn pool(&self) -> &PgPool {
        &self.backend.pool
    }
}

#[async_trait]
impl Backend for PgBackend {
    type Conn = PgConnection;
    type Pooled = PoolConnection<Postgres>;
    type Tx = Transaction<'static, Postgres>;

    async fn reader(&self) -> StoreResult<Self::Pooled> {
        Ok(self.pool.acquire().await?)
    }

    async fn writer(&self) -> StoreResult<Self::Pooled> {
        Ok(self.pool.acquire().await?)
    }

    async fn snapshot(&self) -> StoreResult<Self::Tx> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
        Ok(tx)
    }

    async fn begin(&self) -> StoreResult<Self::Tx> {
        Ok(self.pool.begin().await?)
    }

    /// Every instance learns of the events through `NOTIFY` (see [`PgLog`]).
    async fn commit(&self, tx: Self::Tx) -> StoreResult<()> {
        Ok(tx.commit().await?)
    }

    async fn logged(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
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
