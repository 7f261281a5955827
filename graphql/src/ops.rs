//! Health, readiness and Prometheus metrics over HTTP: `/healthz` (the process is up),
//! `/readyz` (200 only while every readiness signal is true: the process is ready and, for a
//! gateway, the services answer their health check) and `/metrics` (OpenMetrics text of the
//! process's registry).
//! Part of the gateway's router, and served alone ([`OpsServer`]) by a process that runs no
//! gateway (services or projections only), for probes and scraping.

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::GatewayError;
use crate::metrics::SharedRegistry;

/// What the ops endpoints read.
#[derive(Clone)]
pub(crate) struct OpsState {
    /// `/readyz` is 200 only while all of these are true.
    pub ready: Vec<watch::Receiver<bool>>,
    pub registry: SharedRegistry,
}

/// `/healthz`, `/readyz` and `/metrics`.
pub(crate) fn routes(state: OpsState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

async fn readyz(State(state): State<OpsState>) -> Response {
    if state.ready.iter().all(|ready| *ready.borrow()) {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

async fn metrics(State(state): State<OpsState>) -> Response {
    let mut body = String::new();
    let encoded = match state.registry.lock() {
        Ok(registry) => prometheus_client::encoding::text::encode(&mut body, &registry).is_ok(),
        Err(_) => false,
    };
    if !encoded {
        return (StatusCode::INTERNAL_SERVER_ERROR, "cannot encode metrics").into_response();
    }
    ([(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], body)
        .into_response()
}

/// An axum router on a bound listener: the gateway, or the ops endpoints alone.
pub(crate) struct HttpServer {
    listener: TcpListener,
    router: Router,
    local_addr: SocketAddr,
}

impl HttpServer {
    pub(crate) fn new(listener: TcpListener, router: Router) -> Result<Self, GatewayError> {
        let local_addr = listener.local_addr()?;
        Ok(Self { listener, router, local_addr })
    }

    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub(crate) async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), GatewayError> {
        // Small frames (a graphql-ws `next` then `complete`, a push) must not wait for the
        // peer's delayed ACK behind Nagle's algorithm: ~40 ms stalls otherwise.
        let listener = self.listener.tap_io(|tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot set TCP_NODELAY on a connection");
            }
        });
        axum::serve(listener, self.router).with_graceful_shutdown(shutdown).await?;
        Ok(())
    }
}

/// The ops endpoints alone, bound and ready to run.
pub struct OpsServer(HttpServer);

impl OpsServer {
    /// Serves `/readyz` from `ready` and `/metrics` from `registry` on `listener`.
    pub fn build(
        listener: TcpListener,
        ready: watch::Receiver<bool>,
        registry: SharedRegistry,
    ) -> Result<Self, GatewayError> {
        HttpServer::new(listener, routes(OpsState { ready: vec![ready], registry })).map(Self)
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.0.local_addr()
    }

    /// Serves until `shutdown` resolves.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), GatewayError> {
        self.0.run_until_stopped(shutdown).await
    }
}
