//! Listeners (plain and TLS) and graceful shutdown.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use axum::{Extension, Router};
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;

use super::base_url::Scheme;

/// Longest time in-flight requests get to finish once shutdown starts.
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

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
    pub async fn serve(self, router: Router, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        let handle = Handle::new();
        let scheme = if self.tls.is_some() { Scheme::Https } else { Scheme::Http };
        let app = router.layer(Extension(scheme));
        let mut servers = tokio::task::JoinSet::new();
        for socket in self.sockets {
            let service = app.clone().into_make_service_with_connect_info::<SocketAddr>();
            let handle = handle.clone();
            match &self.tls {
                Some(config) => {
                    let server = axum_server::from_tcp_rustls(socket, config.clone()).handle(handle);
                    servers.spawn(async move { server.serve(service).await });
                }
                None => {
                    let server = axum_server::from_tcp(socket).handle(handle);
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
