//! Connections over a real port: a client cannot hold one open for free,
//! and stopping the server does not wait for idle ones.

use std::{
    net::SocketAddr,
    time::{Duration, Instant},
};

use renewals::{
    app::{App, ServeConfig, Settings},
    config::Today,
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
    sync::oneshot,
    task::JoinHandle,
};

/// The header timeout the server under test is given.
const HEADER_TIMEOUT: Duration = Duration::from_secs(1);
/// Longer than any of these tests should wait for the server.
const PATIENCE: Duration = Duration::from_secs(8);

struct Served {
    address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
    _dir: tempfile::TempDir,
}

async fn serve() -> Served {
    serve_with(|_| {}).await
}

/// A server whose settings (beyond the header timeout) `adjust` says.
async fn serve_with(adjust: impl FnOnce(&mut Settings)) -> Served {
    let mut settings = Settings {
        header_timeout: HEADER_TIMEOUT,
        ..Settings::new(Today::Fixed(crate::helpers::today()))
    };
    adjust(&mut settings);
    let dir = tempfile::tempdir().unwrap();
    let app = App::build(ServeConfig {
        database_url: format!("sqlite://{}/c.db?mode=rwc", dir.path().display()),
        bind: "127.0.0.1:0".parse().unwrap(),
        demo: false,
        pg_connections: renewals::store::PG_CONNECTIONS,
        database_wait: std::time::Duration::ZERO,
        settings,
    })
    .await
    .unwrap();
    let address = app.local_addr().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(app.serve(async {
        let _ = stopped.await;
    }));
    Served {
        address,
        stop,
        task,
        _dir: dir,
    }
}

impl Served {
    /// Stops the server and waits until it has.
    async fn stop(self) {
        self.stop.send(()).unwrap();
        self.task.await.unwrap();
    }
}

/// Checks that a connection was `held` about the header timeout before the
/// server closed it: not at once, and not for ever.
fn assert_closed_at_header_timeout(held: Duration, what: &str) {
    assert!(
        held >= HEADER_TIMEOUT - Duration::from_millis(100) && held < HEADER_TIMEOUT * 3,
        "{what}: closed after {held:?}, the header timeout is {HEADER_TIMEOUT:?}"
    );
}

/// Reads until the server closes the connection; what it sent, and when it
/// closed. Panics if it is still open after [`PATIENCE`].
async fn read_until_closed(stream: &mut TcpStream) -> (String, Instant) {
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await;
    assert!(
        read.is_ok(),
        "the connection is still open after {PATIENCE:?}"
    );
    (
        String::from_utf8_lossy(&received).into_owned(),
        Instant::now(),
    )
}

const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n";

/// Headers sent a byte at a time, each in time for the last, never end:
/// the connection is closed once the header timeout has passed since the
/// server began to wait for them, and the server still answers others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_that_never_end_are_cut_off_at_the_header_timeout() {
    let served = serve().await;
    // Before connecting: the server may start its timer before `connect`
    // returns here.
    let started = Instant::now();
    let mut stream = TcpStream::connect(served.address).await.unwrap();
    let (mut reader, mut writer) = stream.split();
    let trickle = async {
        for byte in b"GET /health HTTP/1.1\r\nX-Slow: ".iter().cycle() {
            if writer.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    let closed = async {
        let mut buffer = [0u8; 256];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => return Instant::now(),
                Ok(_) => {}
            }
        }
    };
    let closed_at = tokio::time::timeout(PATIENCE, async {
        tokio::select! {
            at = closed => at,
            () = trickle => Instant::now(),
        }
    })
    .await
    .expect("a trickle of header bytes kept the connection open");
    assert_closed_at_header_timeout(closed_at - started, "a trickle of header bytes");

    let mut other = TcpStream::connect(served.address).await.unwrap();
    other
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let (response, _) = read_until_closed(&mut other).await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    served.stop().await;
}

/// A kept-alive connection is answered, and closed once it has been idle for
/// the header timeout, not kept for ever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_kept_alive_connection_is_closed_at_the_header_timeout() {
    let served = serve().await;
    let mut stream = TcpStream::connect(served.address).await.unwrap();
    stream.write_all(HEALTH).await.unwrap();
    let mut first = [0u8; 12];
    stream.read_exact(&mut first).await.unwrap();
    assert_eq!(&first, b"HTTP/1.1 200");
    let answered = Instant::now();
    let (_, closed) = read_until_closed(&mut stream).await;
    assert_closed_at_header_timeout(closed - answered, "idle");
    served.stop().await;
}

/// Stopping closes idle connections at once, a kept-alive one and one that
/// has sent nothing, and the server is stopped well before the header
/// timeout would have closed them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_does_not_wait_for_idle_connections() {
    let served = serve().await;
    let mut kept_alive = TcpStream::connect(served.address).await.unwrap();
    kept_alive.write_all(HEALTH).await.unwrap();
    let mut first = [0u8; 12];
    kept_alive.read_exact(&mut first).await.unwrap();
    let _silent = TcpStream::connect(served.address).await.unwrap();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let stopping = Instant::now();
    served.stop.send(()).unwrap();
    tokio::time::timeout(PATIENCE, served.task)
        .await
        .expect("the server did not stop")
        .unwrap();
    let took = stopping.elapsed();
    assert!(
        took < HEADER_TIMEOUT / 2,
        "stopping took {took:?}, as long as waiting for idle connections to time out"
    );
    let (_, _) = read_until_closed(&mut kept_alive).await;
}

/// An HTTP/2 connection (cleartext, prior knowledge) that has asked once and
/// goes quiet is pinged after the header timeout, and closed when the ping
/// goes unanswered as long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_http2_connection_that_ignores_pings_is_closed() {
    let served = serve().await;
    let mut stream = TcpStream::connect(served.address).await.unwrap();
    // The client preface: the magic, then an empty SETTINGS frame.
    let mut bytes = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    bytes.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    // `GET /health` on stream 1: a HEADERS frame (END_STREAM, END_HEADERS)
    // of :method GET, :scheme http (static table) and :path /health.
    let block = [&[0x82, 0x86, 0x44, 7][..], b"/health"].concat();
    bytes.extend_from_slice(&[0, 0, block.len() as u8, 1, 0x05, 0, 0, 0, 1]);
    bytes.extend_from_slice(&block);
    stream.write_all(&bytes).await.unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut stream).await;
    let held = closed - started;
    // Quiet for the timeout, then a ping unanswered for as long.
    assert!(
        held >= HEADER_TIMEOUT * 2 - Duration::from_millis(100),
        "closed after {held:?}, before a ping had gone unanswered"
    );
    served.stop().await;
}

/// A connection that sends nothing, or only the start of HTTP/2's preface
/// (before which the protocol cannot be told, and no hyper timeout runs), is
/// closed at the header timeout too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_that_never_asks_is_closed_at_the_header_timeout() {
    let served = serve().await;
    for first_bytes in [&b""[..], b"PRI * HTTP/2.0\r\n"] {
        let mut stream = TcpStream::connect(served.address).await.unwrap();
        stream.write_all(first_bytes).await.unwrap();
        let started = Instant::now();
        let (_, closed) = read_until_closed(&mut stream).await;
        assert_closed_at_header_timeout(closed - started, &format!("{first_bytes:?}"));
    }
    served.stop().await;
}

/// The answer to `GET path` on a connection of its own.
async fn get(address: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    read_until_closed(&mut stream).await.0
}

/// An HTTP/1.1 request without a `Host` header, or with two, is a 400 (RFC
/// 9112, section 3.2); HTTP/1.0 needs none. Without one it was served.
#[tokio::test]
async fn an_http_1_1_request_names_its_host_once() {
    let served = serve().await;
    let ask = |request: &'static str| async move {
        let mut stream = TcpStream::connect(served.address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        read_until_closed(&mut stream).await.0
    };
    let without = ask("GET /health HTTP/1.1\r\nConnection: close\r\n\r\n").await;
    assert!(without.starts_with("HTTP/1.1 400"), "{without}");
    assert!(without.contains("BAD_REQUEST"), "{without}");
    let twice =
        ask("GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n").await;
    assert!(twice.starts_with("HTTP/1.1 400"), "{twice}");
    let once = ask("GET /health HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").await;
    assert!(once.starts_with("HTTP/1.1 200"), "{once}");
    let old = ask("GET /health HTTP/1.0\r\n\r\n").await;
    assert!(old.starts_with("HTTP/1.0 200"), "{old}");
    served.stop().await;
}

/// Stopped with a shutdown delay, a server says it is not ready and goes on
/// serving for the delay (a load balancer stops sending it requests), then
/// closes its listener. Without one, the listener closed at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_server_is_unready_and_serves_for_its_shutdown_delay() {
    let delay = Duration::from_secs(1);
    let served = serve_with(|settings| settings.shutdown_delay = delay).await;
    let address = served.address;
    assert!(get(address, "/ready").await.starts_with("HTTP/1.1 200"));
    let stopped_at = Instant::now();
    served.stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let ready = get(address, "/ready").await;
    assert!(ready.starts_with("HTTP/1.1 503"), "{ready}");
    assert!(ready.ends_with("shutting down"), "{ready}");
    assert!(get(address, "/health").await.starts_with("HTTP/1.1 200"));
    served.task.await.unwrap();
    assert!(stopped_at.elapsed() >= delay);
    assert!(
        TcpStream::connect(address).await.is_err(),
        "still listening"
    );
}
