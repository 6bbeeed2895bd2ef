//! A connection goes on after an answer only if the client can tell where its next request
//! starts: an HTTP/1 request answered before its body was read to the end (a Digest challenge,
//! a refused session, a `404`, `405`, `406` or `413`) would otherwise leave the rest of the body
//! in the way.
//!
//! hyper 1, when a handler drops such a body, reads on only what has already arrived and
//! otherwise closes the connection after the answer (`poll_drain_or_close_read` in its HTTP/1
//! dispatcher); the answer, often written before hyper notices, does not say so, and a client
//! that sent its body a moment after its head retries on a closed connection.
//!
//! So every HTTP/1 request body that is not empty is watched. One the application never began
//! to read (an early answer) and of at most [`MAX_DRAINED`] bytes is read to the end and
//! discarded (within [`BODY_READ_TIMEOUT`]), and the connection serves the next request. Any
//! other body left unread gets `Connection: close` on the answer, which makes hyper close once
//! it is written. HTTP/2 needs neither: each request is a stream of its own, and `Connection`
//! is illegal there.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::task::{Context, Poll, ready};

use axum::http::{HeaderValue, Request, Response, Version, header};
use futures_util::future::{BoxFuture, Either};
use http_body::{Body, Frame, SizeHint};

use super::BODY_READ_TIMEOUT;

/// Largest unread body read to the end rather than closing the connection: the largest body
/// either API accepts, so reading one costs no more than serving it would have.
pub const MAX_DRAINED: u64 = {
    let (xivo, icws) = (super::xivo::body::MAX_BODY, super::icws::body::MAX_BODY);
    (if xivo > icws { xivo } else { icws }) as u64
};

/// Not read to the end (yet).
const UNREAD: u8 = 0;
/// Read to the end by the application.
const READ: u8 = 1;
/// Dropped unread, being read to the end in the background.
const DRAINING: u8 = 2;
/// Unread when the answer was ready: the answer says `Connection: close`.
const CLOSING: u8 = 3;

/// Wraps each connection's service (see [`super::server`]).
#[derive(Clone)]
pub struct KeepAlive<S> {
    inner: S,
}

impl<S> KeepAlive<S> {
    pub fn new(inner: S) -> Self {
        Self { inner }
    }
}

impl<S, B, R> tower::Service<Request<B>> for KeepAlive<S>
where
    S: tower::Service<Request<Watched<B>>, Response = Response<R>>,
    S::Future: Send + 'static,
    B: Body + Send + Unpin + 'static,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = Either<S::Future, BoxFuture<'static, Result<Response<R>, S::Error>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // Requests without a body (every GET) pass untouched.
        if request.version() == Version::HTTP_2 || request.body().is_end_stream() {
            return Either::Left(self.inner.call(request.map(Watched::unwatched)));
        }
        let drainable = !request.headers().contains_key(header::EXPECT)
            && request.body().size_hint().exact().is_some_and(|length| length <= MAX_DRAINED);
        let state = Arc::new(AtomicU8::new(UNREAD));
        let request = request.map(|body| Watched { body: Some(body), state: Some(state.clone()), drainable });
        let answer = self.inner.call(request);
        Either::Right(Box::pin(async move {
            let mut response = answer.await?;
            if state.compare_exchange(UNREAD, CLOSING, Ordering::AcqRel, Ordering::Acquire).is_ok() {
                response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response)
        }))
    }
}

/// A request body that records whether it was read to the end and, dropped unread, reads the
/// rest in the background when it is short enough.
pub struct Watched<B: Body + Send + Unpin + 'static> {
    /// Taken only by `drop`.
    body: Option<B>,
    /// `None`: nothing to watch (empty body, HTTP/2).
    state: Option<Arc<AtomicU8>>,
    /// Whether, dropped unread, the body is read to the end: only if it is short enough and the
    /// application never began reading it (one that stopped midway gave up on it: a timeout, a
    /// limit).
    drainable: bool,
}

impl<B: Body + Send + Unpin + 'static> Watched<B> {
    fn unwatched(body: B) -> Self {
        Self { body: Some(body), state: None, drainable: false }
    }

    fn finished(&self) {
        if let Some(state) = &self.state {
            let _ = state.compare_exchange(UNREAD, READ, Ordering::AcqRel, Ordering::Acquire);
        }
    }
}

impl<B: Body + Send + Unpin + 'static> Body for Watched<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        self.drainable = false;
        let Some(body) = self.body.as_mut() else { return Poll::Ready(None) };
        let frame = ready!(Pin::new(body).poll_frame(cx));
        match &frame {
            None => self.finished(),
            Some(Ok(_)) if self.is_end_stream() => self.finished(),
            Some(_) => {}
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body.as_ref().map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl<B: Body + Send + Unpin + 'static> Drop for Watched<B> {
    fn drop(&mut self) {
        let Some(state) = &self.state else { return };
        let Some(body) = self.body.take().filter(|body| self.drainable && !body.is_end_stream()) else { return };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        // Unless the answer already said `Connection: close`.
        if state.compare_exchange(UNREAD, DRAINING, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            runtime.spawn(drain(body));
        }
    }
}

/// Reads `body` to the end and discards it; gives up after [`BODY_READ_TIMEOUT`] (the
/// connection then closes).
async fn drain<B: Body + Unpin>(mut body: B) {
    let read = std::future::poll_fn(move |cx| {
        loop {
            match ready!(Pin::new(&mut body).poll_frame(cx)) {
                Some(Ok(_)) => {}
                Some(Err(_)) | None => return Poll::Ready(()),
            }
        }
    });
    if tokio::time::timeout(BODY_READ_TIMEOUT, read).await.is_err() {
        tracing::debug!("an unread request body did not arrive in time: the connection closes");
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use axum::body::{Body as AxumBody, Bytes};
    use tower::{Service as _, ServiceExt as _};

    use super::*;

    /// What the application does with a request body.
    #[derive(Clone, Copy)]
    enum Handling {
        Read,
        Ignore,
    }

    async fn answer(request: Request<AxumBody>, handling: Handling) -> Response<AxumBody> {
        let app = tower::service_fn(move |request: Request<Watched<AxumBody>>| async move {
            if let Handling::Read = handling {
                let body = AxumBody::new(request.into_body());
                axum::body::to_bytes(body, usize::MAX).await.expect("body");
            }
            Ok::<_, Infallible>(Response::new(AxumBody::empty()))
        });
        let mut service = KeepAlive::new(app);
        service.ready().await.expect("ready").call(request).await.expect("answer")
    }

    fn post(body: AxumBody) -> Request<AxumBody> {
        Request::post("/1.1/users").body(body).expect("request")
    }

    fn says_close(response: &Response<AxumBody>) -> bool {
        response.headers().get(header::CONNECTION).is_some_and(|v| v == "close")
    }

    fn of_unknown_length() -> AxumBody {
        AxumBody::from_stream(futures_util::stream::iter([Ok::<_, Infallible>(Bytes::from_static(b"{}"))]))
    }

    #[tokio::test]
    async fn a_body_read_to_the_end_or_none_leaves_the_connection_alone() {
        assert!(!says_close(&answer(Request::get("/").body(AxumBody::empty()).expect("get"), Handling::Ignore).await));
        assert!(!says_close(&answer(post(AxumBody::from("{}")), Handling::Read).await));
        assert!(!says_close(&answer(post(of_unknown_length()), Handling::Read).await));
    }

    #[tokio::test]
    async fn a_short_body_left_unread_is_drained_instead() {
        let body = AxumBody::from(vec![b' '; usize::try_from(MAX_DRAINED).expect("usize")]);
        assert!(!says_close(&answer(post(body), Handling::Ignore).await));
    }

    #[tokio::test]
    async fn any_other_body_left_unread_closes_the_connection() {
        assert!(says_close(&answer(post(of_unknown_length()), Handling::Ignore).await));
        let long = AxumBody::from(vec![b' '; usize::try_from(MAX_DRAINED).expect("usize") + 1]);
        assert!(says_close(&answer(post(long), Handling::Ignore).await));
        let mut expecting = post(AxumBody::from("{}"));
        expecting.headers_mut().insert(header::EXPECT, HeaderValue::from_static("100-continue"));
        assert!(says_close(&answer(expecting, Handling::Ignore).await));
    }

    /// A body of known length that arrives in two frames.
    struct TwoFrames(Vec<Bytes>);

    impl Body for TwoFrames {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            Poll::Ready((!self.0.is_empty()).then(|| Ok(Frame::data(self.0.remove(0)))))
        }

        fn size_hint(&self) -> SizeHint {
            SizeHint::with_exact(self.0.iter().map(|b| b.len() as u64).sum())
        }
    }

    #[tokio::test]
    async fn a_body_the_application_stopped_reading_closes_the_connection() {
        let app = tower::service_fn(|request: Request<Watched<AxumBody>>| async move {
            let mut frames = AxumBody::new(request.into_body()).into_data_stream();
            futures_util::StreamExt::next(&mut frames).await.expect("a frame").expect("data");
            Ok::<_, Infallible>(Response::new(AxumBody::empty()))
        });
        let body = AxumBody::new(TwoFrames(vec![Bytes::from_static(b"{\"a\""), Bytes::from_static(b": 1}")]));
        let mut service = KeepAlive::new(app);
        let response = service.ready().await.expect("ready").call(post(body)).await.expect("answer");
        assert!(says_close(&response));
    }

    #[tokio::test]
    async fn http2_answers_never_carry_connection() {
        let mut request = post(of_unknown_length());
        *request.version_mut() = Version::HTTP_2;
        assert!(!says_close(&answer(request, Handling::Ignore).await));
    }

    #[test]
    fn drains_at_most_what_either_api_reads() {
        assert_eq!(MAX_DRAINED, 64 * 1024);
    }
}
