//! The composition root: opens the event store, builds the projections, the gRPC services and
//! the gateway, binds their listeners (port 0 allowed) and runs them under one shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use careflow_eventstore::EventStore;
use careflow_eventstore::memory::MemoryStore;
use careflow_eventstore::postgres::PostgresStore;
use careflow_eventstore::sqlite::SqliteStore;
use careflow_gateway::{Gateway, GatewayConfig};
use careflow_projections::bed_board::{BedBoardReader, MemoryBedBoard};
use careflow_projections::{Projection, ProjectionRunner};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::transport::server::TcpIncoming;

use crate::cli::{DEV_JWT_SECRET, ServeArgs, StoreKind};
use crate::positions::PositionMetrics;

/// careflow with its listeners bound, ready to run.
pub struct Application {
    store: Arc<dyn EventStore>,
    board: Arc<MemoryBedBoard>,
    grpc: careflow_services::server::Services,
    grpc_listener: TcpListener,
    gateway: Gateway,
    ready: watch::Sender<bool>,
    positions: PositionMetrics,
    demo: bool,
}

impl Application {
    /// Opens the store, replays the read models and binds every listener.
    pub async fn build(args: ServeArgs) -> anyhow::Result<Self> {
        if args.jwt.jwt_secret == DEV_JWT_SECRET {
            tracing::warn!("using the development JWT secret; set CAREFLOW_JWT_SECRET outside development");
        }
        let store: Arc<dyn EventStore> = match args.store {
            StoreKind::Sqlite => {
                std::fs::create_dir_all(&args.data_dir)
                    .with_context(|| format!("cannot create data folder {}", args.data_dir.display()))?;
                let path = args.data_dir.join("events.sqlite");
                Arc::new(
                    SqliteStore::open(&path)
                        .with_context(|| format!("cannot open event store {}", path.display()))?,
                )
            }
            StoreKind::Memory => Arc::new(MemoryStore::new()),
            StoreKind::Postgres => {
                let options = args.postgres.options();
                if args.migrate {
                    for migration in careflow_eventstore::postgres::migrate(&options).await? {
                        tracing::info!(version = migration.version, schema = %options.schema, "migration applied");
                    }
                }
                Arc::new(
                    PostgresStore::connect(options)
                        .await
                        .context("cannot open the PostgreSQL event store")?,
                )
            }
        };
        let board = Arc::new(MemoryBedBoard::new());
        let replayed = ProjectionRunner::new(store.clone(), board.clone()).catch_up().await?;
        tracing::info!(position = replayed, "bed board replayed");

        let auth = args.jwt.authenticator();
        let grpc = careflow_services::server::services(store.clone(), auth.clone()).await?;
        let grpc_listener = TcpListener::bind(args.grpc_addr)
            .await
            .with_context(|| format!("cannot listen for gRPC on {}", args.grpc_addr))?;
        let grpc_addr = grpc_listener.local_addr()?;

        let registry = Arc::new(Mutex::new(prometheus_client::registry::Registry::default()));
        let positions = match registry.lock() {
            Ok(mut registry) => PositionMetrics::register(&mut registry),
            Err(_) => anyhow::bail!("the metrics registry is unusable"),
        };
        let (ready, ready_rx) = watch::channel(false);
        let http_listener = TcpListener::bind(args.http_addr)
            .await
            .with_context(|| format!("cannot listen for HTTP on {}", args.http_addr))?;
        let gateway = Gateway::build(
            GatewayConfig {
                listener: http_listener,
                grpc_endpoint: format!("http://{grpc_addr}"),
                auth,
                graphiql: args.graphiql,
                read_your_writes_timeout: Duration::from_millis(args.read_your_writes_ms),
                ready: ready_rx,
                metrics: registry,
            },
            board.clone() as Arc<dyn BedBoardReader>,
        )
        .await?;
        Ok(Self { store, board, grpc, grpc_listener, gateway, ready, positions, demo: args.demo })
    }

    /// The gateway's bound address.
    pub fn http_addr(&self) -> SocketAddr {
        self.gateway.local_addr()
    }

    /// The gRPC services' bound address.
    pub fn grpc_addr(&self) -> std::io::Result<SocketAddr> {
        self.grpc_listener.local_addr()
    }

    /// Runs until `shutdown` resolves or a part fails, then drains: readiness off, health
    /// NOT_SERVING, servers stop accepting and finish in-flight requests, the projection finishes
    /// its batch.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop, stopped) = watch::channel(false);
        let stop_signal = |mut rx: watch::Receiver<bool>| async move {
            // An error means the sender is gone: stop as well.
            let _ = rx.wait_for(|s| *s).await;
        };

        let grpc_addr = self.grpc_listener.local_addr()?;
        let http_addr = self.gateway.local_addr();
        let incoming = TcpIncoming::from(self.grpc_listener).with_nodelay(Some(true));
        let health = self.grpc.health.clone();
        let mut parts = JoinSet::new();
        let grpc = self.grpc.router.serve_with_incoming_shutdown(incoming, stop_signal(stopped.clone()));
        parts.spawn(async move { grpc.await.context("gRPC server") });
        let runner = ProjectionRunner::new(self.store.clone(), self.board.clone() as Arc<dyn Projection>);
        let projection = runner.run(stop_signal(stopped.clone()));
        parts.spawn(async move { projection.await.context("bed board projection") });
        let gateway = self.gateway.run_until_stopped(stop_signal(stopped.clone()));
        parts.spawn(async move { gateway.await.context("GraphQL gateway") });
        let tracking = self.positions.track(self.store.clone(), self.board.clone(), stopped.clone());
        parts.spawn(async move {
            tracking.await;
            anyhow::Ok(())
        });

        if self.demo {
            crate::demo::load(self.store.clone()).await.context("loading the demo")?;
        }
        self.ready.send_replace(true);
        // The line scripts and tests wait for; logs go to stderr.
        println!("careflow ready grpc={grpc_addr} http={http_addr}");
        tracing::info!(%grpc_addr, %http_addr, "careflow ready");

        let mut result = tokio::select! {
            () = shutdown => Ok(()),
            Some(ended) = parts.join_next() => match ended {
                Ok(Ok(())) => Err(anyhow::anyhow!("a part of careflow stopped unexpectedly")),
                Ok(Err(error)) => Err(error),
                Err(join) => Err(join.into()),
            },
        };
        self.ready.send_replace(false);
        careflow_services::server::set_not_serving(&health).await;
        stop.send_replace(true);
        while let Some(ended) = parts.join_next().await {
            let ended = ended.map_err(anyhow::Error::from).and_then(|r| r);
            if let Err(error) = ended {
                tracing::error!(error = format!("{error:#}"), "error while stopping");
                if result.is_ok() {
                    result = Err(error);
                }
            }
        }
        tracing::info!("stopped");
        result
    }
}
