//! The `ctid` command line.

use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio::sync::Semaphore;

use crate::app::webservice_users;
use crate::config::{DatabaseUrl, Secret};
use crate::domain::webhook::RetryPolicy;
use crate::http::server::{ConnectionLimits, Listeners, TlsFiles, shutdown_signal};
use crate::http::{AppState, build_router, openapi};
use crate::presence::PresenceSettings;
use crate::presence::sessions::SessionLimits;
use crate::store;
use crate::store::EventLog;
use crate::store::Store;
use crate::store::cache::CachedStore;
use crate::webhooks::Deliverer;

/// `ctid --version`: the version and the commit it was built from.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("CTID_GIT_COMMIT"), ")");

#[derive(Debug, Parser)]
#[command(name = "ctid", version = VERSION, about = "CTI server: XiVO configuration API and ICWS presence API")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Args)]
struct DatabaseArgs {
    /// Database URL: sqlite://PATH (created if missing) or postgres://USER:PASSWORD@HOST/DB.
    #[arg(long, env = "CTID_DATABASE", default_value = "sqlite://ctid.db")]
    database: DatabaseUrl,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on; repeat or separate with commas for several.
    #[arg(long, env = "CTID_LISTEN", value_delimiter = ',', default_value = "127.0.0.1:8018")]
    listen: Vec<SocketAddr>,
    #[command(flatten)]
    database: DatabaseArgs,
    /// PEM certificate chain: serve HTTPS.
    #[arg(long, env = "CTID_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of the certificate.
    #[arg(long, env = "CTID_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Server name shown to ICWS clients; default the host name.
    #[arg(long, env = "CTID_SERVER_NAME")]
    server_name: Option<String>,
    /// Peers whose X-Forwarded-Proto and X-Forwarded-Host headers are trusted.
    #[arg(long, env = "CTID_TRUSTED_PROXY", value_delimiter = ',')]
    trusted_proxy: Vec<IpAddr>,
    /// Password of the `admin` web-service user created on first start.
    #[arg(long = "admin-password", env = "CTID_ADMIN_PASSWORD", hide_env_values = true)]
    admin_password: Option<Secret>,
    /// Seconds of inactivity after which a presence session ends.
    #[arg(long, env = "CTID_SESSION_IDLE_TIMEOUT", default_value_t = 300)]
    session_idle_timeout: u64,
    /// Most messages queued for one presence session; beyond, it gets a fresh snapshot.
    #[arg(long, env = "CTID_SESSION_QUEUE_LIMIT", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    session_queue_limit: u64,
    /// Most presence sessions one user may hold at once; beyond, a login gets 429.
    #[arg(long, env = "CTID_MAX_SESSIONS_PER_USER", default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    max_sessions_per_user: u64,
    /// Most presence sessions in all; beyond, a login gets 503.
    #[arg(long, env = "CTID_MAX_SESSIONS", default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_sessions: u64,
    /// Most concurrent client connections; beyond, a connection gets 503 and is closed.
    #[arg(long, env = "CTID_MAX_CONNECTIONS", default_value_t = 25_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Seconds a client gets to send a request's headers (slow clients are disconnected).
    #[arg(long, env = "CTID_HEADER_READ_TIMEOUT", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=3600))]
    header_read_timeout: u64,
    /// Seconds without a report after which a call is taken as ended (a PBX that stopped
    /// reporting cannot leave anyone on the phone).
    #[arg(long, env = "CTID_MAX_CALL_AGE", default_value_t = 14_400, value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    max_call_age: u64,
    /// Seconds the event log keeps events. An instance cut off from a PostgreSQL database for
    /// longer reloads its sessions (clients get a fresh full state).
    #[arg(long, env = "CTID_EVENT_RETENTION", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(60..=604_800))]
    event_retention: u64,
    /// Days the presence history is kept; older records are purged in the background.
    #[arg(long, env = "CTID_HISTORY_RETENTION_DAYS", default_value_t = 400, value_parser = clap::value_parser!(u64).range(1..=36_500))]
    history_retention_days: u64,
    /// Milliseconds before the first retry of a failed webhook delivery (each next one
    /// doubles it); for tests.
    #[arg(long, env = "CTID_WEBHOOK_RETRY_FIRST_MS", default_value_t = 5_000, hide = true,
          value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    webhook_retry_first_ms: u64,
    /// Longest delay between two attempts of a webhook delivery, in milliseconds; for tests.
    #[arg(long, env = "CTID_WEBHOOK_RETRY_MAX_MS", default_value_t = 3_600_000, hide = true,
          value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    webhook_retry_max_ms: u64,
    /// How long, in milliseconds, webhook deliveries may fail before the webhook is disabled;
    /// for tests.
    #[arg(long, env = "CTID_WEBHOOK_GIVE_UP_MS", default_value_t = 86_400_000, hide = true,
          value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    webhook_give_up_ms: u64,
    /// How long, in milliseconds, the webhook lease of an instance that stopped renewing it
    /// holds before another instance takes over; for tests.
    #[arg(long, env = "CTID_WEBHOOK_LEASE_MS", default_value_t = 10_000, hide = true,
          value_parser = clap::value_parser!(u64).range(300..=600_000))]
    webhook_lease_ms: u64,
    /// Log format on stderr.
    #[arg(long, env = "CTID_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server.
    Serve(Box<ServeArgs>),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Roll up the time in status of the UTC days ended (what `ctid serve` does every minute)
    /// and exit.
    RollUp(DatabaseArgs),
    /// Manage the web-service users of the configuration API.
    #[command(name = "webservice-user", subcommand)]
    WebserviceUser(WebserviceUserCommand),
    /// Manage users in bulk.
    #[command(subcommand)]
    User(UserCommand),
    /// Read the presence history.
    #[command(subcommand)]
    History(HistoryCommand),
    /// Show the status catalog.
    #[command(name = "status-message", subcommand)]
    StatusMessage(StatusMessageCommand),
    /// Write a consistent copy of the SQLite database to FILE (a new file), while ctid runs.
    /// PostgreSQL databases are backed up with pg_dump.
    Backup {
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Print the OpenAPI document.
    Openapi,
}

#[derive(Debug, Subcommand)]
enum HistoryCommand {
    /// Write the history of a window as CSV on standard output (a header line, then one
    /// record per line, oldest first), as `GET /1.1/status_history` with `Accept: text/csv`.
    Export {
        /// RFC 3339; default: 24 hours before `--to`.
        #[arg(long)]
        from: Option<String>,
        /// RFC 3339, excluded; default: now.
        #[arg(long)]
        to: Option<String>,
        /// Only this user's records.
        #[arg(long)]
        user_id: Option<i64>,
        /// Only records of this kind: status, phone, station or session.
        #[arg(long)]
        kind: Option<String>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
enum StatusMessageCommand {
    /// List the catalog in display order, one status per line, tab-separated: status id,
    /// group tag, `selectable` or `-`, and the return status (`-` for none).
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Import users from a CSV file with a header line (`-` reads standard input): all or none.
    /// Columns: firstname (required), lastname, username, password, cti_profile_id, caller_id,
    /// outgoing_caller_id, music_on_hold, mobile_phone_number, userfield, timezone, language,
    /// description, preprocess_subroutine.
    Import {
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[derive(Debug, Subcommand)]
enum WebserviceUserCommand {
    /// Add a user; without a password, one is generated and printed.
    Add {
        name: String,
        #[arg(long, env = "CTID_WEBSERVICE_PASSWORD", hide_env_values = true)]
        password: Option<Secret>,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Remove a user.
    Remove {
        name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// List the users.
    List {
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("ctid: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("ctid: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Migrate(db) => {
            init_tracing(LogFormat::Text);
            let store = open(&db.database).await?;
            store.close().await;
            eprintln!("ctid: migrations applied to {}", db.database);
            Ok(())
        }
        Command::RollUp(db) => {
            let store = open(&db.database).await?;
            let result = crate::app::reports::roll_up(store.as_ref(), crate::app::now_ms()).await;
            store.close().await;
            let days = result.map_err(|e| e.to_string())?;
            write_stdout(&format!("rolled up {days} days\n"))
        }
        Command::WebserviceUser(command) => webservice_user(command).await,
        Command::User(UserCommand::Import { file, database }) => {
            let store = open(&database.database).await?;
            let result = if file.as_os_str() == "-" {
                crate::app::import::import_csv(store.as_ref(), std::io::stdin().lock()).await
            } else {
                match std::fs::File::open(&file) {
                    Ok(input) => crate::app::import::import_csv(store.as_ref(), input).await,
                    Err(err) => Err(crate::app::import::ImportError::Read(format!("{}: {err}", file.display()))),
                }
            };
            store.close().await;
            let count = result.map_err(|e| e.to_string())?;
            write_stdout(&format!("imported {count} users\n"))
        }
        Command::StatusMessage(StatusMessageCommand::List { database }) => {
            let store = open(&database.database).await?;
            let result = crate::app::status_messages::list(store.as_ref()).await;
            store.close().await;
            let catalog = result.map_err(|e| e.to_string())?;
            write_stdout(&catalog.iter().map(catalog_line).collect::<String>())
        }
        Command::History(HistoryCommand::Export { from, to, user_id, kind, database }) => {
            let mut pairs = vec![];
            pairs.extend(from.as_deref().map(|v| ("from", v)));
            pairs.extend(to.as_deref().map(|v| ("to", v)));
            pairs.extend(kind.as_deref().map(|v| ("kind", v)));
            let query = crate::domain::history::HistoryQuery::parse(pairs, user_id, crate::domain::clock::now_ms())
                .map_err(|e| e.to_string())?;
            let store = open(&database.database).await?;
            let result = export_history(store.as_ref(), &query).await;
            store.close().await;
            let count = result?;
            eprintln!("ctid: {count} history records exported");
            Ok(())
        }
        Command::Backup { file, database } => backup(&database.database, &file).await,
        Command::Openapi => write_stdout(&openapi::document()),
    }
}

/// Streams the history of `query` as CSV to standard output; returns how many records.
async fn export_history(store: &dyn Store, query: &crate::domain::history::HistoryQuery) -> Result<u64, String> {
    use crate::app::history;
    let mut csv = csv::Writer::from_writer(std::io::BufWriter::new(std::io::stdout().lock()));
    csv.write_record(history::CSV_HEADER).map_err(|e| e.to_string())?;
    let count = history::export(store, query, |record| {
        csv.write_record(history::csv_fields(record)).map_err(|e| ExportError(e.to_string()))
    })
    .await
    .map_err(|e| e.0)?;
    csv.flush().map_err(|e| e.to_string())?;
    Ok(count)
}

/// Why an export stopped.
struct ExportError(String);

impl From<crate::app::AppError> for ExportError {
    fn from(err: crate::app::AppError) -> Self {
        Self(err.to_string())
    }
}

/// One line of `ctid status-message list`.
fn catalog_line(status: &crate::domain::status::StatusMessage) -> String {
    let selectable = if status.is_selectable_status { "selectable" } else { "-" };
    let back = status.return_status_id.as_deref().unwrap_or("-");
    format!("{}\t{}\t{selectable}\t{back}\n", status.status_id, status.group_tag)
}

async fn backup(database: &DatabaseUrl, file: &std::path::Path) -> Result<(), String> {
    let DatabaseUrl::Sqlite { path } = database else {
        return Err(format!(
            "ctid backup copies SQLite databases; back up {database} with pg_dump (docs/operations.md)"
        ));
    };
    if !path.exists() {
        return Err(format!("no database at {}", path.display()));
    }
    if file.exists() {
        return Err(format!("{} already exists: name a new file", file.display()));
    }
    store::SqliteStore::backup(path, file).await.map_err(|e| format!("backup to {} failed: {e}", file.display()))?;
    eprintln!("ctid: {} copied to {}", database, file.display());
    Ok(())
}

fn write_stdout(text: &str) -> Result<(), String> {
    std::io::stdout().lock().write_all(text.as_bytes()).map_err(|e| e.to_string())
}

async fn open(url: &DatabaseUrl) -> Result<std::sync::Arc<dyn store::Store>, String> {
    store::open(url).await.map_err(|e| format!("cannot open the database {url}: {e}"))
}

async fn webservice_user(command: WebserviceUserCommand) -> Result<(), String> {
    match command {
        WebserviceUserCommand::Add { name, password, database } => {
            let store = open(&database.database).await?;
            let generated = password.is_none().then(crate::auth::random::password);
            let chosen = password.as_ref().map(Secret::expose).or(generated.as_deref()).unwrap_or_default();
            let result = webservice_users::add(store.as_ref(), &name, chosen).await;
            store.close().await;
            result.map_err(|e| e.to_string())?;
            match generated {
                Some(password) => write_stdout(&format!("web-service user {name} added with password {password}\n")),
                None => write_stdout(&format!("web-service user {name} added\n")),
            }
        }
        WebserviceUserCommand::Remove { name, database } => {
            let store = open(&database.database).await?;
            let result = webservice_users::remove(store.as_ref(), &name).await;
            store.close().await;
            result.map_err(|e| e.to_string())?;
            write_stdout(&format!("web-service user {name} removed\n"))
        }
        WebserviceUserCommand::List { database } => {
            let store = open(&database.database).await?;
            let result = webservice_users::list(store.as_ref()).await;
            store.close().await;
            let names = result.map_err(|e| e.to_string())?;
            write_stdout(&names.iter().map(|n| format!("{n}\n")).collect::<String>())
        }
    }
}

fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CTID_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log file or a journal gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "ctid".to_string())
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    init_tracing(args.log_format);
    tracing::info!(database = %args.database.database, "opening the store");
    let (opened, log) = store::open_with_log(&args.database.database)
        .await
        .map_err(|e| format!("cannot open the database {}: {e}", args.database.database))?;
    let cache = Arc::new(CachedStore::new(opened));
    let store: Arc<dyn Store> = cache.clone();
    let admin_password = args.admin_password.as_ref().map(Secret::expose).filter(|p| !p.is_empty());
    match webservice_users::bootstrap_admin(store.as_ref(), admin_password).await {
        Ok(Some(generated)) => eprintln!("ctid: created web-service user admin with password {generated}"),
        Ok(None) => {}
        Err(err) => return Err(format!("cannot create the admin web-service user: {err}")),
    }
    let tls = match (args.tls_cert, args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        _ => None,
    };
    let listeners = Listeners::bind(&args.listen, tls.as_ref())
        .await
        .map_err(|e| format!("cannot listen on {:?}: {e}", args.listen))?;
    let scheme = if listeners.is_tls() { "https" } else { "http" };
    for addr in listeners.local_addrs().map_err(|e| e.to_string())? {
        eprintln!("ctid: listening on {addr} ({scheme})");
    }
    let server_name = args.server_name.unwrap_or_else(host_name);
    let presence = PresenceSettings {
        idle_timeout: std::time::Duration::from_secs(args.session_idle_timeout),
        queue_limit: usize::try_from(args.session_queue_limit).unwrap_or(usize::MAX),
        server_name,
        limits: SessionLimits {
            per_user: usize::try_from(args.max_sessions_per_user).unwrap_or(usize::MAX),
            total: usize::try_from(args.max_sessions).unwrap_or(usize::MAX),
        },
    };
    let connection_limits = ConnectionLimits {
        max_connections: usize::try_from(args.max_connections).unwrap_or(usize::MAX).min(Semaphore::MAX_PERMITS),
        header_read_timeout: std::time::Duration::from_secs(args.header_read_timeout),
    };
    let idle_timeout = presence.idle_timeout;
    let state = AppState::new(store.clone(), log.clone(), args.trusted_proxy, presence);
    let follower = tokio::spawn(state.presence.clone().follow_log());
    tokio::spawn(async move {
        let started = std::time::Instant::now();
        match cache.warm().await {
            Ok(users) => tracing::info!(users, elapsed_ms = started.elapsed().as_millis(), "user cache warm"),
            Err(err) => tracing::warn!(error = %err, "warming the user cache failed; users are read on demand"),
        }
    });
    let sweeper = tokio::spawn(sweep(state.presence.clone(), args.max_call_age, idle_timeout));
    let policy = RetryPolicy {
        first_ms: i64::try_from(args.webhook_retry_first_ms).unwrap_or(i64::MAX),
        max_ms: i64::try_from(args.webhook_retry_max_ms).unwrap_or(i64::MAX),
        give_up_ms: i64::try_from(args.webhook_give_up_ms).unwrap_or(i64::MAX),
    };
    let lease = std::time::Duration::from_millis(args.webhook_lease_ms);
    let deliverer =
        Arc::new(Deliverer::new(store.clone(), log.clone(), state.presence.applied_events(), policy, lease)?);
    let webhooks = tokio::spawn(deliverer.clone().run());
    let purger = tokio::spawn(purge(log, std::time::Duration::from_secs(args.event_retention)));
    let lifecycle = tokio::spawn(state.presence.clone().run_lifecycle());
    let history_days = std::time::Duration::from_secs(args.history_retention_days * 86_400);
    let history_purger = tokio::spawn(purge_history(state.store.clone(), history_days));
    let compactor = tokio::spawn(compact(store.clone()));
    let presence = state.presence.clone();
    let shutdown = async move {
        shutdown_signal().await;
        presence.shutting_down();
    };
    let result = listeners.serve(build_router(state), connection_limits, shutdown).await;
    sweeper.abort();
    follower.abort();
    purger.abort();
    lifecycle.abort();
    history_purger.abort();
    webhooks.abort();
    deliverer.release().await;
    compactor.abort();
    store.close().await;
    tracing::info!("stopped");
    result.map_err(|e| format!("server error: {e}"))
}

/// Every few seconds: ends idle presence sessions, and calls without a report for longer
/// than `max_call_age` seconds.
async fn sweep(presence: Arc<crate::presence::Presence>, max_call_age: u64, idle_timeout: std::time::Duration) {
    let period = std::time::Duration::from_secs(max_call_age.clamp(1, 5).min((idle_timeout.as_secs() / 2).max(1)));
    let max_call_age = std::time::Duration::from_secs(max_call_age);
    let mut tick = tokio::time::interval(period);
    loop {
        tick.tick().await;
        match presence.sweep().await {
            Ok(0) => {}
            Ok(ended) => tracing::info!(ended, "idle presence sessions ended"),
            Err(err) => tracing::error!(error = %err, "ending idle sessions failed"),
        }
        match crate::app::telephony::expire(&presence, max_call_age).await {
            Ok(0) => {}
            Ok(calls) => tracing::warn!(calls, "calls without a report for too long were ended"),
            Err(err) => tracing::error!(error = %err, "ending stale calls failed"),
        }
    }
}

/// At start, then every ten minutes: forgets history records older than `retention`.
async fn purge_history(store: Arc<dyn Store>, retention: std::time::Duration) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        tick.tick().await;
        match crate::app::history::purge(store.as_ref(), retention).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "history records past their retention purged"),
            Err(err) => tracing::warn!(error = %err, "purging the history failed"),
        }
    }
}

/// Every minute: rolls up the time in status of the UTC days ended (see
/// [`crate::app::reports::roll_up`]).
async fn compact(store: Arc<dyn Store>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        match crate::app::reports::roll_up(store.as_ref(), crate::app::now_ms()).await {
            Ok(0) => {}
            Ok(days) => tracing::info!(days, "time in status rolled up"),
            Err(err) => tracing::warn!(error = %err, "rolling up the time in status failed"),
        }
    }
}

/// Every minute: forgets events older than `retention` from the log, but those an enabled
/// webhook has not handled yet (for 25 hours at most).
async fn purge(log: Arc<dyn EventLog>, retention: std::time::Duration) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(60));
    loop {
        tick.tick().await;
        match log.purge(retention).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "old events purged from the log"),
            Err(err) => tracing::warn!(error = %err, "purging the event log failed"),
        }
    }
}
