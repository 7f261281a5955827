//! careflow-gateway: the GraphQL gateway. Queries read read models through ports (never the
//! event store); mutations send gRPC commands and answer once the read models reflect them;
//! subscriptions push read-model changes. JWT auth on every request; body, string, fragment,
//! depth and complexity limits; a deadline on every call to the services; health, readiness
//! (which follows the services' gRPC health) and Prometheus metrics.

mod error;
mod guard;
mod limits;
mod metrics;
mod ops;
mod readiness;
mod schema;
mod server;
mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use careflow_auth::Authenticator;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use error::{ApiError, FieldViolation};
pub use metrics::{GatewayMetrics, SharedRegistry};
pub use ops::OpsServer;
pub use schema::{Caller, CareflowSchema, Clients, Readers};
pub use web::{DevSignIn, Persona};

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
    /// Limits, deadlines and health checks.
    pub settings: GatewaySettings,
    /// Sign-in as a demo person (`/dev/…`), only with the development secret.
    pub dev_sign_in: Option<DevSignIn>,
}

/// The gateway's limits, deadlines and health checks; [`Default`] suits production.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// Largest `/graphql` request body, and largest graphql-ws message, in bytes (larger: 413).
    pub max_body_bytes: usize,
    /// Longest string input (argument, input field or variable), in bytes (longer:
    /// BAD_USER_INPUT naming the field).
    pub max_string_bytes: usize,
    /// How long one call to the services may take (then UNAVAILABLE).
    pub grpc_deadline: Duration,
    /// How often the services' gRPC health is checked for `/readyz`.
    pub health_check_interval: Duration,
    /// How long one health check may take before the services count as unreachable.
    pub health_check_timeout: Duration,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        Self {
            max_body_bytes: 64 * 1024,
            max_string_bytes: 4 * 1024,
            grpc_deadline: Duration::from_secs(5),
            health_check_interval: Duration::from_secs(2),
            health_check_timeout: Duration::from_secs(1),
        }
    }
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
    /// Checks the services' health for `/readyz` while the gateway runs.
    health: HealthCheck,
}

struct HealthCheck {
    channel: tonic::transport::Channel,
    interval: Duration,
    timeout: Duration,
    reachable: watch::Sender<bool>,
}

impl Gateway {
    /// Builds the schema and routes over `readers`.
    pub async fn build(config: GatewayConfig, readers: Readers) -> Result<Self, GatewayError> {
        let settings = config.settings;
        let endpoint = tonic::transport::Endpoint::from_shared(config.grpc_endpoint.clone())
            .map_err(|source| GatewayError::Endpoint { endpoint: config.grpc_endpoint.clone(), source })?
            .tcp_nodelay(true)
            .connect_timeout(settings.grpc_deadline);
        let channel = endpoint.connect_lazy();
        let clients = Clients::new(channel.clone());
        let metrics = {
            let mut registry = config.metrics.lock().map_err(|_| GatewayError::Registry)?;
            GatewayMetrics::register(&mut registry)
        };
        let schema = schema::build(
            readers,
            clients,
            config.read_your_writes_timeout,
            metrics.clone(),
            config.graphiql,
            &settings,
        );
        let state =
            server::AppState { schema, auth: config.auth, metrics, max_body_bytes: settings.max_body_bytes };
        // Not ready until the first health check has answered.
        let (reachable, services_reachable) = watch::channel(false);
        let ops = ops::OpsState { ready: vec![config.ready, services_reachable], registry: config.metrics };
        let router = server::router(state, ops, config.graphiql).merge(web::routes(config.dev_sign_in));
        let health = HealthCheck {
            channel,
            interval: settings.health_check_interval,
            timeout: settings.health_check_timeout,
            reachable,
        };
        Ok(Self { server: ops::HttpServer::new(config.listener, router)?, health })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    /// Serves until `shutdown` resolves, then finishes in-flight requests. Checks the services'
    /// health meanwhile.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), GatewayError> {
        let (stop, stopped) = watch::channel(false);
        let HealthCheck { channel, interval, timeout, reachable } = self.health;
        let mut stopped_rx = stopped.clone();
        let checks =
            tokio::spawn(readiness::watch_services(channel, interval, timeout, reachable, async move {
                // An error means the sender is gone: stop as well.
                let _ = stopped_rx.wait_for(|s| *s).await;
            }));
        let served = self.server.run_until_stopped(shutdown).await;
        stop.send_replace(true);
        drop(stopped);
        if let Err(error) = checks.await {
            tracing::warn!(%error, "the services health check ended abnormally");
        }
        served
    }

    /// The SDL of the schema (for snapshots and clients).
    pub fn sdl() -> String {
        schema::build_sdl()
    }
}
