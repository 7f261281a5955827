//! careflow-gateway: the GraphQL gateway. Queries read read models through ports (never the
//! event store); mutations send gRPC commands and answer once the read models reflect them;
//! subscriptions push read-model changes. JWT auth on every request, depth/complexity/size
//! limits, health, readiness and Prometheus metrics.

mod error;
mod metrics;
mod ops;
mod schema;
mod server;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use careflow_auth::Authenticator;
use careflow_projections::bed_board::BedBoardReader;
use careflow_proto::beds::v1::bed_service_client::BedServiceClient;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use error::{ApiError, FieldViolation};
pub use metrics::{GatewayMetrics, SharedRegistry};
pub use ops::OpsServer;
pub use schema::{Caller, CareflowSchema};

/// Everything the gateway needs.
pub struct GatewayConfig {
    /// Bound listener (port 0 allowed).
    pub listener: TcpListener,
    /// The gRPC services, e.g. `http://127.0.0.1:50051` (connected lazily).
    pub grpc_endpoint: String,
    /// Token checks.
    pub auth: Authenticator,
    /// Serve GraphiQL at `/graphiql` and allow introspection.
    pub graphiql: bool,
    /// How long a mutation waits for the read models.
    pub read_your_writes_timeout: Duration,
    /// `/readyz` answers 200 only while this is true.
    pub ready: watch::Receiver<bool>,
    /// The process's metrics registry; the gateway adds its own and `/metrics` encodes it all.
    pub metrics: SharedRegistry,
}

/// Why the gateway could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The gRPC endpoint is not a valid URI.
    #[error("invalid gRPC endpoint {endpoint:?}")]
    Endpoint {
        /// The endpoint given.
        endpoint: String,
        /// Why.
        #[source]
        source: tonic::transport::Error,
    },
    /// The metrics registry lock was poisoned.
    #[error("the metrics registry is unusable")]
    Registry,
    /// The HTTP server failed.
    #[error("HTTP server failed")]
    Serve(#[from] std::io::Error),
}

/// The gateway, bound and ready to run.
pub struct Gateway {
    server: ops::HttpServer,
}

impl Gateway {
    /// Builds the schema and routes over `reader`.
    pub async fn build(config: GatewayConfig, reader: Arc<dyn BedBoardReader>) -> Result<Self, GatewayError> {
        let endpoint = tonic::transport::Endpoint::from_shared(config.grpc_endpoint.clone())
            .map_err(|source| GatewayError::Endpoint { endpoint: config.grpc_endpoint.clone(), source })?
            .tcp_nodelay(true);
        let beds = BedServiceClient::new(endpoint.connect_lazy());
        let metrics = {
            let mut registry = config.metrics.lock().map_err(|_| GatewayError::Registry)?;
            GatewayMetrics::register(&mut registry)
        };
        let schema =
            schema::build(reader, beds, config.read_your_writes_timeout, metrics.clone(), config.graphiql);
        let state = server::AppState { schema, auth: config.auth, metrics };
        let ops = ops::OpsState { ready: config.ready, registry: config.metrics };
        let router = server::router(state, ops, config.graphiql);
        Ok(Self { server: ops::HttpServer::new(config.listener, router)? })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), GatewayError> {
        self.server.run_until_stopped(shutdown).await
    }

    /// The SDL of the schema (for snapshots and clients).
    pub fn sdl() -> String {
        schema::build_sdl()
    }
}
