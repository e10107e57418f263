//! The connection side of the server, plain or TLS: how long a client may take, and how much
//! it may send before the application sees a request. Slow or idle clients (slow-loris) are
//! disconnected instead of holding a connection for ever.

use axum::Router;
use axum_server::tls_rustls::RustlsConfig;
use axum_server::{Handle, Server};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;

/// The most a request's head may hold (request line and headers); more gets 431.
const MAX_HEAD_BYTES: usize = 32 * 1024;
/// How long open requests get to finish after the shutdown signal.
const DRAIN: Duration = Duration::from_secs(30);

/// Serves the application on the listener, over TLS when given a configuration, until
/// `shutdown` completes; then drains open requests.
///
/// `header_timeout` is how long a new connection may stay silent, and how long a client may
/// take to send a request's headers.
pub(crate) async fn serve(
    listener: TcpListener,
    tls: Option<RustlsConfig>,
    header_timeout: Duration,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let handle = Handle::new();
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(DRAIN));
    });
    let listener = listener.into_std()?;
    let make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    match tls {
        Some(config) => {
            let server = axum_server::tls_rustls::from_tcp_rustls(listener, config)?;
            limit(server, handle, header_timeout)
                .serve(make_service)
                .await
        }
        None => {
            let server = axum_server::from_tcp(listener)?;
            limit(server, handle, header_timeout)
                .serve(make_service)
                .await
        }
    }
}

fn limit<Acc>(
    server: Server<SocketAddr, Acc>,
    handle: Handle<SocketAddr>,
    header_timeout: Duration,
) -> Server<SocketAddr, Acc> {
    let mut server = server.handle(handle).first_request_timeout(header_timeout);
    let builder = server.http_builder();
    builder
        .http1()
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    builder
        .http2()
        .max_header_list_size(MAX_HEAD_BYTES as u32)
        .keep_alive_interval(Some(header_timeout))
        .keep_alive_timeout(header_timeout);
    server
}
