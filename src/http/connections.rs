//! A cap on concurrent connections: one permit per accepted socket, held until it closes.
//! Beyond the cap a plain-HTTP client gets a `503` with `Retry-After` and the socket is closed;
//! the server keeps serving the connections it has.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum_server::accept::Accept;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// What a client over the cap reads before the socket closes.
const BUSY: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Type: text/plain\r\n\
Content-Length: 48\r\nConnection: close\r\n\r\nToo many connections to this server; retry soon.";

/// Wraps another acceptor (plain or TLS) with the cap; sets `TCP_NODELAY` on every socket.
#[derive(Clone)]
pub struct LimitedAcceptor<A> {
    inner: A,
    permits: Arc<Semaphore>,
    /// Whether the listener speaks plain HTTP, so the refusal can be written in clear.
    plain: bool,
}

impl<A> LimitedAcceptor<A> {
    pub fn new(inner: A, permits: Arc<Semaphore>, plain: bool) -> Self {
        Self { inner, permits, plain }
    }
}

impl<A, S> Accept<TcpStream, S> for LimitedAcceptor<A>
where
    A: Accept<TcpStream, S> + Clone + Send + 'static,
    A::Future: Send,
    S: Send + 'static,
{
    type Stream = Counted<A::Stream>;
    type Service = A::Service;
    type Future = Pin<Box<dyn Future<Output = io::Result<(Self::Stream, Self::Service)>> + Send>>;

    fn accept(&self, mut stream: TcpStream, service: S) -> Self::Future {
        let permit = self.permits.clone().try_acquire_owned();
        let (inner, plain) = (self.inner.clone(), self.plain);
        Box::pin(async move {
            let Ok(permit) = permit else {
                tracing::warn!("connection refused: the connection limit is reached");
                if plain {
                    // Best effort, a second at most: answer, then read what the client sent
                    // so that closing does not reset the connection before it reads the answer.
                    let _ = tokio::time::timeout(Duration::from_secs(1), refuse(&mut stream)).await;
                }
                return Err(io::Error::other("connection limit reached"));
            };
            let _ = stream.set_nodelay(true);
            let (stream, service) = inner.accept(stream, service).await?;
            Ok((Counted { inner: stream, _permit: permit }, service))
        })
    }
}

async fn refuse(stream: &mut TcpStream) -> io::Result<()> {
    stream.write_all(BUSY).await?;
    stream.shutdown().await?;
    let mut sink = [0_u8; 4096];
    while stream.read(&mut sink).await? > 0 {}
    Ok(())
}

/// A stream that gives its permit back when it is dropped.
pub struct Counted<S> {
    inner: S,
    _permit: OwnedSemaphorePermit,
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::BUSY;

    #[test]
    fn the_refusal_is_a_complete_http_response() {
        let text = std::str::from_utf8(BUSY).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Length: "))
            .and_then(|v| v.parse().ok())
            .expect("content length");
        assert_eq!(body.len(), length);
    }
}
