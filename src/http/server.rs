//! Serving connections: hyper with a timer, so that a connection cannot be
//! held open for free. `axum::serve` gives hyper no timer, and without one
//! hyper has no timeouts: a client that sent half its headers, or a
//! keep-alive connection left idle, stayed open for ever (fifty such
//! connections, a byte every few seconds, were all still open minutes later).
//! A connection that has not asked anything yet is watched here, as hyper's
//! timeouts start only once it knows the protocol.

use std::{
    future::Future,
    io,
    pin::pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use axum::{
    Router,
    extract::Request,
    http::{StatusCode, Version, header::HOST},
    middleware::Next,
    response::Response,
};
use hyper_util::{
    rt::{TokioExecutor, TokioIo, TokioTimer},
    server::{conn::auto, graceful::GracefulShutdown},
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tower::ServiceExt;

/// How long a connection may take to send a request's headers, and stay idle
/// between requests, by default.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long to wait before accepting again when accepting failed for want of
/// resources (file descriptors, memory): failing again at once would spin.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Serves `router` on `listener` until `shutdown` resolves, then closes idle
/// connections and lets the requests in flight finish.
///
/// HTTP/1.1 connections are closed once `header_timeout` has passed from
/// the moment the server waits for a request (the first, or the next on a
/// kept-alive connection) without all its headers having arrived. HTTP/2
/// connections (cleartext, prior knowledge) are pinged after that long
/// without traffic, and closed when a ping goes unanswered as long.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    header_timeout: Duration,
    shutdown: impl Future<Output = ()>,
) {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(header_timeout)
        .keep_alive_timeout(header_timeout);
    let router = router.layer(axum::middleware::from_fn(one_host));
    let connections = GracefulShutdown::new();
    let mut shutdown = pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    if !is_the_peers(&err) {
                        tracing::error!(error = %err, "cannot accept connections");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Whether the connection has sent a request yet: until it has,
        // neither of hyper's timeouts may be running (see `silent_for`).
        let asked = Arc::new(AtomicBool::new(false));
        let service = TowerToHyperService::new(router.clone().map_request({
            let asked = Arc::clone(&asked);
            move |request| {
                asked.store(true, Ordering::Relaxed);
                request
            }
        }));
        let connection = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let connection = connections.watch(connection);
        tokio::spawn(async move {
            tokio::select! {
                ended = connection => {
                    if let Err(err) = ended {
                        tracing::debug!(error = %err, "connection ended with an error");
                    }
                }
                () = silent_for(header_timeout, &asked) => {
                    tracing::debug!("connection closed: no request within the header timeout");
                }
            }
        });
    }
    drop(listener);
    connections.shutdown().await;
}

/// An HTTP/1.1 request names its host in one `Host` header; one without,
/// or with two, is a 400 (RFC 9112, section 3.2). HTTP/2 names it otherwise.
async fn one_host(request: Request, next: Next) -> Response {
    if request.version() == Version::HTTP_11 && request.headers().get_all(HOST).iter().count() != 1
    {
        return super::problem(
            StatusCode::BAD_REQUEST,
            "BAD_REQUEST",
            "an HTTP/1.1 request names its host in one Host header",
        );
    }
    next.run(request).await
}

/// Resolves if no request has come `timeout` after the connection was
/// accepted. hyper's timeouts start once it knows the protocol, from the
/// connection's first bytes: a connection that sent none, or part of the
/// HTTP/2 preface, would otherwise be kept for ever.
async fn silent_for(timeout: Duration, asked: &AtomicBool) {
    tokio::time::sleep(timeout).await;
    if asked.load(Ordering::Relaxed) {
        std::future::pending::<()>().await;
    }
}

/// Whether accepting failed because of the connection itself (the peer gave
/// up before it was accepted), which needs no pause.
fn is_the_peers(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    )
}
