//! Slow and idle clients are disconnected: a connection that never sends a request, a client
//! that trickles its headers a byte at a time (slow-loris), a kept-alive connection left idle;
//! and a request head larger than 32 KiB gets 431.

use crate::helpers::{cheap_settings, spawn_app_configured, TestApp};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_TIMEOUT: Duration = Duration::from_secs(1);

async fn app() -> TestApp {
    let server = tessera_server::ServerConfig {
        header_timeout: HEADER_TIMEOUT,
        ..tessera_server::ServerConfig::default()
    };
    spawn_app_configured(cheap_settings(), server).await
}

async fn connect(app: &TestApp) -> TcpStream {
    TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .unwrap()
}

/// Reads until the server closes the connection; answers what it sent and when it closed.
async fn until_closed(stream: &mut TcpStream) -> (String, Duration) {
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = tokio::time::timeout(Duration::from_secs(15), stream.read(&mut buffer))
            .await
            .expect("the server kept the connection open for 15 s");
        match read {
            Ok(0) | Err(_) => break,
            Ok(n) => received.extend_from_slice(&buffer[..n]),
        }
    }
    (
        String::from_utf8_lossy(&received).into_owned(),
        started.elapsed(),
    )
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed() {
    let app = app().await;
    let mut silent = connect(&app).await;
    let (_, after) = until_closed(&mut silent).await;
    assert!(after < HEADER_TIMEOUT * 4, "closed after {after:?}");
}

#[tokio::test]
async fn headers_trickled_a_byte_at_a_time_are_cut_off() {
    let app = app().await;
    let mut loris = connect(&app).await;
    loris.write_all(b"GET /healthz HTTP/1.1\r\n").await.unwrap();
    let started = Instant::now();
    // One header byte every 200 ms, for up to 10 s: far longer than the timeout allows.
    let mut closed = false;
    for byte in b"X-Slow: ".iter().cycle().take(50) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if loris.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
    }
    if !closed {
        let (_, _) = until_closed(&mut loris).await;
    }
    assert!(
        started.elapsed() < HEADER_TIMEOUT * 4,
        "the slow client was kept {:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn an_idle_kept_alive_connection_is_closed_after_its_answer() {
    let app = app().await;
    let mut client = connect(&app).await;
    client
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: tessera\r\n\r\n")
        .await
        .unwrap();
    let (received, after) = until_closed(&mut client).await;
    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    assert!(after < HEADER_TIMEOUT * 4, "closed after {after:?}");
}

#[tokio::test]
async fn a_request_head_over_32_kib_gets_431() {
    let app = app().await;
    let response = app
        .http
        .get(app.url("/healthz"))
        .header("x-padding", "a".repeat(40 * 1024))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 431);
    // A normal one still works.
    let response = app.http.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
}
