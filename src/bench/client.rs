//! The load generator. It runs in a process of its own (`renewals bench-client`,
//! spawned by the benchmark), so that its CPU time is not counted as the
//! server's: it reads a [`Spec`] as JSON on stdin and prints an [`Outcome`]
//! per workload as JSON on stdout.
//!
//! Each client is one keep-alive HTTP/1.1 connection sending one request at a
//! time; every response must be HTTP 200 without GraphQL `errors` (and, for
//! mutations, contain the `expect`ed text, e.g. empty `userErrors`).

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::{Request, body::Bytes, header};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use tokio::net::TcpStream;

/// What to send, for how long.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Spec {
    pub addr: SocketAddr,
    pub duration_ms: u64,
    /// Run side by side for the whole duration.
    pub workloads: Vec<Workload>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Workload {
    pub name: String,
    pub token: String,
    pub clients: usize,
    /// Requests per second per client; as fast as possible when `None`.
    pub rate_per_client: Option<f64>,
    /// Request bodies, taken in turn by all clients.
    pub bodies: Vec<String>,
    /// Send each body once, then stop.
    pub each_once: bool,
    /// Text every response body must contain.
    pub expect: Option<String>,
}

/// What one workload achieved.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Outcome {
    pub name: String,
    pub requests: u64,
    pub errors: u64,
    pub first_error: Option<String>,
    pub elapsed_s: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Outcome {
    pub fn per_second(&self) -> f64 {
        if self.elapsed_s > 0.0 {
            self.requests as f64 / self.elapsed_s
        } else {
            0.0
        }
    }
}

/// Entry point of `renewals bench-client`.
pub async fn main() -> anyhow::Result<()> {
    let mut input = String::new();
    std::io::Read::read_to_string(&mut std::io::stdin(), &mut input)
        .context("reading the spec from stdin")?;
    let spec: Spec = serde_json::from_str(&input).context("parsing the spec")?;
    let outcomes = drive(&spec).await?;
    println!("{}", serde_json::to_string(&outcomes)?);
    Ok(())
}

struct Shared {
    workload: Workload,
    bodies: Vec<Bytes>,
    next: AtomicUsize,
    deadline: Instant,
}

struct ClientResult {
    histogram: Histogram<u64>,
    requests: u64,
    errors: u64,
    first_error: Option<String>,
}

fn histogram() -> anyhow::Result<Histogram<u64>> {
    // Microseconds, from 1 µs to 60 s, 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).context("histogram bounds")
}

/// Runs every workload of the spec at once and collects their outcomes.
pub async fn drive(spec: &Spec) -> anyhow::Result<Vec<Outcome>> {
    let started = Instant::now();
    let deadline = started + Duration::from_millis(spec.duration_ms);
    let mut tasks = Vec::new();
    for workload in &spec.workloads {
        let shared = Arc::new(Shared {
            workload: workload.clone(),
            bodies: workload
                .bodies
                .iter()
                .map(|b| Bytes::from(b.clone()))
                .collect(),
            next: AtomicUsize::new(0),
            deadline,
        });
        let clients: Vec<_> = (0..workload.clients)
            .map(|_| tokio::spawn(client(spec.addr, Arc::clone(&shared))))
            .collect();
        tasks.push((workload.name.clone(), started, clients));
    }
    let mut outcomes = Vec::new();
    for (name, started, clients) in tasks {
        let mut all = histogram()?;
        let mut outcome = Outcome {
            name,
            ..Outcome::default()
        };
        for client in clients {
            let result = client.await.context("client task")??;
            all.add(&result.histogram).context("merging histograms")?;
            outcome.requests += result.requests;
            outcome.errors += result.errors;
            if outcome.first_error.is_none() {
                outcome.first_error = result.first_error;
            }
        }
        outcome.elapsed_s = started.elapsed().as_secs_f64();
        let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
        outcome.p50_ms = ms(0.5);
        outcome.p90_ms = ms(0.9);
        outcome.p99_ms = ms(0.99);
        outcome.max_ms = all.max() as f64 / 1000.0;
        outcomes.push(outcome);
    }
    Ok(outcomes)
}

async fn client(addr: SocketAddr, shared: Arc<Shared>) -> anyhow::Result<ClientResult> {
    let mut result = ClientResult {
        histogram: histogram()?,
        requests: 0,
        errors: 0,
        first_error: None,
    };
    let stream = TcpStream::connect(addr).await.context("connecting")?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(connection);
    let workload = &shared.workload;
    let authorization = format!("Bearer {}", workload.token);
    let interval = workload
        .rate_per_client
        .map(|rate| Duration::from_secs_f64(1.0 / rate.max(0.001)));
    let mut next_send = Instant::now();
    while Instant::now() < shared.deadline {
        if let Some(interval) = interval {
            tokio::time::sleep_until(next_send.into()).await;
            next_send += interval;
            if Instant::now() >= shared.deadline {
                break;
            }
        }
        let turn = shared.next.fetch_add(1, Ordering::Relaxed);
        if workload.each_once && turn >= shared.bodies.len() {
            break;
        }
        let Some(body) = shared.bodies.get(turn % shared.bodies.len().max(1)) else {
            break;
        };
        let request = Request::post("/graphql")
            .header(header::HOST, addr.to_string())
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::AUTHORIZATION, &authorization)
            .body(Full::new(body.clone()))?;
        let sent = Instant::now();
        let outcome = match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status();
                match response.into_body().collect().await {
                    Ok(body) => check(status, &body.to_bytes(), workload.expect.as_deref()),
                    Err(err) => Err(format!("reading the body: {err}")),
                }
            }
            Err(err) => Err(format!("sending: {err}")),
        };
        let micros = sent.elapsed().as_micros().clamp(1, 60_000_000) as u64;
        result.histogram.saturating_record(micros);
        result.requests += 1;
        if let Err(error) = outcome {
            result.errors += 1;
            if result.first_error.is_none() {
                result.first_error = Some(error);
            }
            if sender.ready().await.is_err() {
                break;
            }
        }
    }
    Ok(result)
}

/// HTTP 200, no GraphQL `errors`, and the expected text.
fn check(status: hyper::StatusCode, body: &[u8], expect: Option<&str>) -> Result<(), String> {
    let snippet = || String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    if status != hyper::StatusCode::OK {
        return Err(format!("HTTP {status}: {}", snippet()));
    }
    if contains(body, b"\"errors\":") {
        return Err(format!("GraphQL errors: {}", snippet()));
    }
    if let Some(expect) = expect
        && !contains(body, expect.as_bytes())
    {
        return Err(format!("expected `{expect}` in: {}", snippet()));
    }
    Ok(())
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// One request, for the benchmark's own look-ups (cursors, ids): the JSON body.
pub async fn request(
    addr: SocketAddr,
    token: &str,
    query: &str,
    variables: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let stream = TcpStream::connect(addr).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let body = serde_json::json!({ "query": query, "variables": variables }).to_string();
    let request = Request::post("/graphql")
        .header(header::HOST, addr.to_string())
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Full::new(Bytes::from(body)))?;
    let response = sender.send_request(request).await?;
    let status = response.status();
    let bytes = response.into_body().collect().await?.to_bytes();
    check(status, &bytes, None).map_err(anyhow::Error::msg)?;
    Ok(serde_json::from_slice(&bytes)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_with_errors_or_without_the_expected_text_fail() {
        let ok = hyper::StatusCode::OK;
        assert!(check(ok, br#"{"data":{"a":1}}"#, None).is_ok());
        assert!(check(ok, br#"{"data":null,"errors":[{"message":"x"}]}"#, None).is_err());
        assert!(
            check(
                ok,
                br#"{"data":{"p":{"userErrors":[]}}}"#,
                Some(r#""userErrors":[]"#)
            )
            .is_ok()
        );
        assert!(
            check(
                ok,
                br#"{"data":{"p":{"userErrors":[{"code":"X"}]}}}"#,
                Some(r#""userErrors":[]"#)
            )
            .is_err()
        );
        assert!(check(hyper::StatusCode::UNAUTHORIZED, b"{}", None).is_err());
    }
}
