//! Whether a request's body has all arrived: a request that times out before
//! it has is the client's delay (408, RFC 9110 §15.5.9), not the server's.

use std::{
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes, HttpBody},
    extract::Request,
    http::StatusCode,
    response::Response,
};
use hyper::body::{Frame, SizeHint};

use super::problem;

/// `request`, its body watched, and the flag its end sets.
pub(super) fn watched(request: Request) -> (Request, Arc<AtomicBool>) {
    let (parts, body) = request.into_parts();
    let arrived = Arc::new(AtomicBool::new(body.is_end_stream()));
    let body = Body::new(Watched {
        body,
        arrived: Arc::clone(&arrived),
    });
    (Request::from_parts(parts, body), arrived)
}

/// The answer to a request whose body had not all arrived in time.
pub(super) fn timed_out(request_timeout: Duration) -> Response {
    tracing::info!(code = "REQUEST_TIMEOUT", timeout = ?request_timeout, "a request's body did not arrive in time");
    problem(
        StatusCode::REQUEST_TIMEOUT,
        "REQUEST_TIMEOUT",
        &format!(
            "the request's body did not arrive within {} s",
            request_timeout.as_secs_f64()
        ),
    )
}

struct Watched {
    body: Body,
    arrived: Arc<AtomicBool>,
}

impl HttpBody for Watched {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.body.is_end_stream() {
            self.arrived.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
