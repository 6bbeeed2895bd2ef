//! Listeners (plain and TLS) and graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::{Extension, Router};
use axum_server::Handle;
use axum_server::accept::DefaultAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use hyper_util::rt::TokioTimer;
use tokio::sync::Semaphore;

use super::base_url::Scheme;
use super::connections::LimitedAcceptor;
use super::keep_alive::KeepAlive;

/// Longest time in-flight requests get to finish once shutdown starts.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// Largest request head (request line and headers) a connection buffers; beyond, `431`.
pub const MAX_HEAD_BYTES: usize = 32 * 1024;
/// Most header fields in one request.
const MAX_HEADERS: usize = 100;
/// Most concurrent HTTP/2 streams on one connection.
const MAX_STREAMS: u32 = 128;

/// What one client may hold of the server.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Concurrent connections, over all listeners.
    pub max_connections: usize,
    /// Time a client gets to send a request head, from the first byte or from the end of the
    /// previous request (an idle keep-alive connection is closed after it too).
    pub header_read_timeout: Duration,
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        Self { max_connections: 25_000, header_read_timeout: Duration::from_secs(10) }
    }
}

/// Certificate and key files of an HTTPS listener.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Sockets bound and ready to serve.
pub struct Listeners {
    sockets: Vec<std::net::TcpListener>,
    tls: Option<RustlsConfig>,
}

impl Listeners {
    /// Binds every address (port 0 picks a free port) and loads the TLS files.
    pub async fn bind(addrs: &[SocketAddr], tls: Option<&TlsFiles>) -> io::Result<Self> {
        let mut sockets = Vec::with_capacity(addrs.len());
        for addr in addrs {
            let socket = std::net::TcpListener::bind(addr)?;
            socket.set_nonblocking(true)?;
            sockets.push(socket);
        }
        let tls = match tls {
            Some(files) => {
                let _ = rustls::crypto::ring::default_provider().install_default();
                Some(RustlsConfig::from_pem_file(&files.cert, &files.key).await?)
            }
            None => None,
        };
        Ok(Self { sockets, tls })
    }

    /// The bound addresses, in the order given.
    pub fn local_addrs(&self) -> io::Result<Vec<SocketAddr>> {
        self.sockets.iter().map(std::net::TcpListener::local_addr).collect()
    }

    pub fn is_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves `router` on every listener until `shutdown` resolves, then drains.
    pub async fn serve(
        self,
        router: Router,
        limits: ConnectionLimits,
        shutdown: impl Future<Output = ()>,
    ) -> io::Result<()> {
        let handle = Handle::new();
        let scheme = if self.tls.is_some() { Scheme::Https } else { Scheme::Http };
        let app = router.layer(Extension(scheme));
        let permits = Arc::new(Semaphore::new(limits.max_connections));
        let mut servers = tokio::task::JoinSet::new();
        for socket in self.sockets {
            // Each connection's service: a request body left unread is drained or ends the
            // connection with `Connection: close` (see `keep_alive`).
            let service = tower::ServiceExt::<SocketAddr>::map_response(
                app.clone().into_make_service_with_connect_info::<SocketAddr>(),
                KeepAlive::new,
            );
            let handle = handle.clone();
            let permits = permits.clone();
            match &self.tls {
                Some(config) => {
                    let acceptor = LimitedAcceptor::new(RustlsAcceptor::new(config.clone()), permits, false);
                    let mut server = axum_server::from_tcp(socket).acceptor(acceptor).handle(handle);
                    configure(server.http_builder(), limits);
                    servers.spawn(async move { server.serve(service).await });
                }
                None => {
                    let acceptor = LimitedAcceptor::new(DefaultAcceptor::new(), permits, true);
                    let mut server = axum_server::from_tcp(socket).acceptor(acceptor).handle(handle);
                    configure(server.http_builder(), limits);
                    servers.spawn(async move { server.serve(service).await });
                }
            }
        }
        tokio::select! {
            () = shutdown => {
                tracing::info!("shutting down: draining in-flight requests");
                handle.graceful_shutdown(Some(DRAIN_TIMEOUT));
            }
            Some(result) = servers.join_next() => {
                handle.shutdown();
                return result.map_err(io::Error::other)?;
            }
        }
        while let Some(result) = servers.join_next().await {
            result.map_err(io::Error::other)??;
        }
        Ok(())
    }
}

/// Header, buffer and timeout limits of both HTTP versions.
fn configure(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    limits: ConnectionLimits,
) {
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_headers(MAX_HEADERS);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(MAX_HEAD_BYTES).unwrap_or(u32::MAX))
        .max_concurrent_streams(MAX_STREAMS)
        .keep_alive_interval(Duration::from_secs(30));
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
