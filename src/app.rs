//! The composition root: for the roles this process runs (all by default, or `--only …`), opens
//! the event store, builds the read models, the gRPC services and the gateway, binds their
//! listeners (port 0 allowed) and runs them under one shutdown.
//!
//! | role          | needs                                  | serves                     |
//! |---------------|----------------------------------------|----------------------------|
//! | `services`    | the event store                        | gRPC on `--grpc-addr`      |
//! | `projections` | the event store, the read model store  | writes the read models     |
//! | `gateway`     | read models, the services (`--services-url` when elsewhere) | GraphQL on `--http-addr` |
//!
//! Every process serves `/healthz`, `/readyz` and `/metrics` on `--http-addr` (the gateway's
//! port when it runs the gateway), so each role can be probed and scraped.
//!
//! Roles in separate processes share state only through PostgreSQL (`--store postgres`) and
//! Redis (`--read-models redis`); the gateway's read-your-writes wait then follows the Redis
//! read model's checkpoint.

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, bail};
use careflow_auth::Authenticator;
use careflow_domain::OdsCode;
use careflow_eventstore::EventStore;
use careflow_eventstore::memory::MemoryStore;
use careflow_eventstore::postgres::PostgresStore;
use careflow_eventstore::sqlite::SqliteStore;
use careflow_gateway::{DevSignIn, Gateway, GatewayConfig, GatewaySettings, OpsServer, Readers};
use careflow_projections::assessments::{self as assessment_model, AssessmentDoc, AssessmentModel};
use careflow_projections::bed_board::redis::{RedisBedBoard, RedisBedBoardReader, RedisConfig};
use careflow_projections::bed_board::{BedBoardReader, MemoryBedBoard};
use careflow_projections::brokerage::{self as brokerage_model, BrokerageDoc, BrokerageModel};
use careflow_projections::documents::redis::{RedisDocumentReader, RedisDocuments};
use careflow_projections::documents::{DocumentReader, MemoryDocuments};
use careflow_projections::flow::{self as flow_model, FlowDoc, FlowModel};
use careflow_projections::patient_summary::{self, PatientDoc, PatientSummaries};
use careflow_projections::task_board::{self, TaskBoard, TaskDoc};
use careflow_projections::virtual_wards::{self as virtual_ward_model, VirtualWardDoc, VirtualWardModel};
use careflow_projections::{Projection, ProjectionHost};
use careflow_workflows::assessments::AssessmentFlows;
use careflow_workflows::brokerage::OfferWindows;
use careflow_workflows::clock::{Deadlines, Scheduler, SystemClock, TaskDeadlines};
use careflow_workflows::commands::{GrpcSender, Sender};
use careflow_workflows::discharge::DischargeFlows;
use careflow_workflows::flag_rules::FlagRuleFlows;
use careflow_workflows::runner::ProcessRunner;
use careflow_workflows::virtualwards::{VirtualWardDeadlines, VirtualWardFlows};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tonic::transport::Endpoint;
use tonic::transport::server::TcpIncoming;

use crate::cli::{JwtSecretUse, ReadModelKind, ServeArgs, ServeRole, StoreKind};
use crate::positions::{PositionMetrics, WorkflowMetrics};

/// careflow with its listeners bound, ready to run.
pub struct Application {
    roles: BTreeSet<ServeRole>,
    store: Option<Arc<dyn EventStore>>,
    /// The read models this process keeps (projections role), run by one host.
    projections: Vec<Arc<dyn Projection>>,
    grpc: Option<(careflow_services::server::Services, TcpListener)>,
    gateway: Option<Gateway>,
    /// `/healthz`, `/readyz`, `/metrics` of a process without the gateway (which serves them).
    ops: Option<OpsServer>,
    /// Where the gateway or the ops endpoints listen.
    http_addr: SocketAddr,
    ready: watch::Sender<bool>,
    positions: PositionMetrics,
    demo: bool,
    /// The organisation that owns the shipped templates, when they are seeded at start.
    seed_templates: Option<OdsCode>,
    /// The workflows and the clock, with the services' endpoint (workflows role).
    workflows: Option<Workflows>,
    workflow_metrics: WorkflowMetrics,
    /// Commit → read model times of the projections.
    projection_metrics: careflow_projections::metrics::ProjectionMetrics,
}

/// What the workflows role runs: the discharge flows' process manager and the one clock,
/// sending to the services over gRPC as careflow itself.
struct Workflows {
    flows: ProcessRunner<DischargeFlows>,
    flag_rules: ProcessRunner<FlagRuleFlows>,
    assessments: ProcessRunner<AssessmentFlows>,
    virtual_wards: ProcessRunner<VirtualWardFlows>,
    clock: Scheduler,
}

impl Workflows {
    async fn build(store: &Arc<dyn EventStore>, endpoint: &str, auth: Authenticator) -> anyhow::Result<Self> {
        let channel = Endpoint::from_shared(endpoint.to_owned())
            .with_context(|| format!("the services' endpoint {endpoint} is not a URL"))?
            .tcp_nodelay(true)
            .connect_lazy();
        let sender: Arc<dyn Sender> = Arc::new(GrpcSender::new(channel, auth));
        let flows = ProcessRunner::new(store.clone(), sender.clone(), DischargeFlows::new());
        let flag_rules = ProcessRunner::new(store.clone(), sender.clone(), FlagRuleFlows::new());
        let assessments = ProcessRunner::new(store.clone(), sender.clone(), AssessmentFlows::new());
        let virtual_wards = ProcessRunner::new(store.clone(), sender.clone(), VirtualWardFlows::new());
        // Before the demo (or anything else) appends: on a store that had no workflows, they
        // start at its head.
        flows.start_at_head_if_new().await.context("cannot start the workflows' checkpoint")?;
        flag_rules.start_at_head_if_new().await.context("cannot start the flag rules' checkpoint")?;
        assessments.start_at_head_if_new().await.context("cannot start the assessments' checkpoint")?;
        virtual_wards.start_at_head_if_new().await.context("cannot start the virtual wards' checkpoint")?;
        let deadlines: Vec<Arc<dyn Deadlines>> =
            vec![Arc::new(TaskDeadlines), Arc::new(VirtualWardDeadlines), Arc::new(OfferWindows)];
        let clock = Scheduler::new(store.clone(), sender, Arc::new(SystemClock), deadlines);
        Ok(Self { flows, flag_rules, assessments, virtual_wards, clock })
    }
}

/// How long stopping may take: in-flight requests and batches finish within it; connections
/// still open after it are closed. Under a Kubernetes grace period of 30 s by default.
const DRAIN_TIME: Duration = Duration::from_secs(10);

/// The roles `args` asks for, checked against the rest of the configuration.
fn roles(args: &ServeArgs) -> anyhow::Result<BTreeSet<ServeRole>> {
    let roles: BTreeSet<ServeRole> = if args.only.is_empty() {
        ServeRole::ALL.into_iter().collect()
    } else {
        args.only.iter().copied().collect()
    };
    let has = |role| roles.contains(&role);
    let split = roles.len() < ServeRole::ALL.len();
    if split && (has(ServeRole::Services) || has(ServeRole::Projections)) && args.store != StoreKind::Postgres
    {
        bail!(
            "--only {}: roles in separate processes share the event store, so use --store postgres",
            names(&roles)
        );
    }
    if has(ServeRole::Gateway) && !has(ServeRole::Services) && args.services_url.is_none() {
        bail!("a gateway without the services role needs --services-url (the services' gRPC endpoint)");
    }
    if has(ServeRole::Workflows) && !has(ServeRole::Services) && args.services_url.is_none() {
        bail!("workflows without the services role need --services-url (the services' gRPC endpoint)");
    }
    if split && has(ServeRole::Workflows) && args.store != StoreKind::Postgres {
        bail!(
            "--only {}: workflows in their own process follow the shared event store, so use --store postgres",
            names(&roles)
        );
    }
    if split
        && args.read_models == ReadModelKind::Memory
        && (has(ServeRole::Gateway) != has(ServeRole::Projections))
    {
        bail!(
            "--only {}: a gateway and the projections in separate processes share read models, so use \
             --read-models redis",
            names(&roles)
        );
    }
    if args.demo && !has(ServeRole::Services) {
        bail!("--demo loads data through the event store: run it with the services role");
    }
    if args.seed_templates.is_some() && !has(ServeRole::Services) {
        bail!("--seed-templates publishes through the event store: run it with the services role");
    }
    Ok(roles)
}

fn names(roles: &BTreeSet<ServeRole>) -> String {
    roles.iter().map(|r| r.name()).collect::<Vec<_>>().join(",")
}

async fn open_store(args: &ServeArgs) -> anyhow::Result<Arc<dyn EventStore>> {
    Ok(match args.store {
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
            Arc::new(PostgresStore::connect(options).await.context("cannot open the PostgreSQL event store")?)
        }
    })
}

/// The read models: what the projections role keeps and what the gateway role reads (the same
/// objects in memory; writers and readers in Redis). One line per read model.
async fn read_models(
    args: &ServeArgs,
    roles: &BTreeSet<ServeRole>,
) -> anyhow::Result<(Vec<Arc<dyn Projection>>, Option<Readers>)> {
    let (keeps, reads) = (roles.contains(&ServeRole::Projections), roles.contains(&ServeRole::Gateway));
    let mut kept: Vec<Arc<dyn Projection>> = Vec::new();
    let readers = match args.read_models {
        ReadModelKind::Memory => {
            let board = Arc::new(MemoryBedBoard::new());
            let patients = Arc::new(MemoryDocuments::new(PatientSummaries));
            let tasks = Arc::new(MemoryDocuments::new(TaskBoard));
            let assessments = Arc::new(MemoryDocuments::new(AssessmentModel));
            let virtual_wards = Arc::new(MemoryDocuments::new(VirtualWardModel));
            let brokerage = Arc::new(MemoryDocuments::new(BrokerageModel));
            let flow = Arc::new(MemoryDocuments::new(FlowModel));
            if keeps {
                // The patient summaries first: the host applies each batch in this order, so
                // a bed the board shows occupied already has its patient's summary (which
                // decides whether the patient is shown).
                kept.push(patients.clone());
                kept.push(board.clone());
                kept.push(tasks.clone());
                kept.push(assessments.clone());
                kept.push(virtual_wards.clone());
                kept.push(brokerage.clone());
                kept.push(flow.clone());
            }
            reads.then(|| Readers {
                beds: board as Arc<dyn BedBoardReader>,
                patients: patients as Arc<dyn DocumentReader<PatientDoc>>,
                tasks: tasks as Arc<dyn DocumentReader<TaskDoc>>,
                assessments: assessments as Arc<dyn DocumentReader<AssessmentDoc>>,
                virtual_wards: virtual_wards as Arc<dyn DocumentReader<VirtualWardDoc>>,
                brokerage: brokerage as Arc<dyn DocumentReader<BrokerageDoc>>,
                flow: flow as Arc<dyn DocumentReader<FlowDoc>>,
            })
        }
        ReadModelKind::Redis => {
            let config = RedisConfig::new(&args.redis_url).with_prefix(&args.redis_prefix);
            if keeps {
                // The patient summaries first, as above.
                let patients = RedisDocuments::connect(&config, PatientSummaries)
                    .await
                    .context("cannot open the Redis patient summaries")?;
                kept.push(Arc::new(patients));
                let board =
                    RedisBedBoard::connect(&config).await.context("cannot open the Redis bed board")?;
                kept.push(Arc::new(board));
                let tasks = RedisDocuments::connect(&config, TaskBoard)
                    .await
                    .context("cannot open the Redis task models")?;
                kept.push(Arc::new(tasks));
                let assessments = RedisDocuments::connect(&config, AssessmentModel)
                    .await
                    .context("cannot open the Redis assessment models")?;
                kept.push(Arc::new(assessments));
                let virtual_wards = RedisDocuments::connect(&config, VirtualWardModel)
                    .await
                    .context("cannot open the Redis virtual ward models")?;
                kept.push(Arc::new(virtual_wards));
                let brokerage = RedisDocuments::connect(&config, BrokerageModel)
                    .await
                    .context("cannot open the Redis brokerage models")?;
                kept.push(Arc::new(brokerage));
                let flow = RedisDocuments::connect(&config, FlowModel)
                    .await
                    .context("cannot open the Redis discharge flow model")?;
                kept.push(Arc::new(flow));
            }
            if reads {
                Some(Readers {
                    beds: Arc::new(
                        RedisBedBoardReader::connect(&config)
                            .await
                            .context("cannot read the Redis bed board")?,
                    ),
                    patients: Arc::new(
                        RedisDocumentReader::<PatientDoc>::connect(&config, patient_summary::NAME)
                            .await
                            .context("cannot read the Redis patient summaries")?,
                    ),
                    tasks: Arc::new(
                        RedisDocumentReader::<TaskDoc>::connect(&config, task_board::NAME)
                            .await
                            .context("cannot read the Redis task models")?,
                    ),
                    assessments: Arc::new(
                        RedisDocumentReader::<AssessmentDoc>::connect(&config, assessment_model::NAME)
                            .await
                            .context("cannot read the Redis assessment models")?,
                    ),
                    virtual_wards: Arc::new(
                        RedisDocumentReader::<VirtualWardDoc>::connect(&config, virtual_ward_model::NAME)
                            .await
                            .context("cannot read the Redis virtual ward models")?,
                    ),
                    brokerage: Arc::new(
                        RedisDocumentReader::<BrokerageDoc>::connect(&config, brokerage_model::NAME)
                            .await
                            .context("cannot read the Redis brokerage models")?,
                    ),
                    flow: Arc::new(
                        RedisDocumentReader::<FlowDoc>::connect(&config, flow_model::NAME)
                            .await
                            .context("cannot read the Redis discharge flow model")?,
                    ),
                })
            } else {
                None
            }
        }
    };
    Ok((kept, readers))
}

/// One host for every read model this process keeps.
fn host(store: &Arc<dyn EventStore>, projections: &[Arc<dyn Projection>]) -> ProjectionHost {
    projections.iter().fold(ProjectionHost::new(store.clone()), |host, p| host.with(p.clone()))
}

impl Application {
    /// Opens what the roles need, brings the read models up to date and binds every listener.
    pub async fn build(args: ServeArgs) -> anyhow::Result<Self> {
        let roles = roles(&args)?;
        let seed_templates = args
            .seed_templates
            .as_deref()
            .map(|ods| {
                OdsCode::parse(ods).with_context(|| format!("--seed-templates {ods:?} is not an ODS code"))
            })
            .transpose()?;
        let development = args.check_jwt_secret()? == JwtSecretUse::Development;
        if development {
            tracing::warn!("using the development JWT secret; set CAREFLOW_JWT_SECRET outside development");
        }
        let needs_store = roles.contains(&ServeRole::Services)
            || roles.contains(&ServeRole::Projections)
            || roles.contains(&ServeRole::Workflows);
        let store = if needs_store { Some(open_store(&args).await?) } else { None };
        let (projections, readers) = read_models(&args, &roles).await?;
        if let Some(store) = &store
            && !projections.is_empty()
        {
            let position = host(store, &projections).catch_up().await?;
            tracing::info!(position, models = projections.len(), "read models caught up");
        }

        let registry = Arc::new(Mutex::new(prometheus_client::registry::Registry::default()));
        let (positions, workflow_metrics, command_metrics, projection_metrics) = match registry.lock() {
            Ok(mut registry) => (
                PositionMetrics::register(&mut registry),
                WorkflowMetrics::register(&mut registry),
                careflow_services::metrics::CommandMetrics::register(&mut registry),
                careflow_projections::metrics::ProjectionMetrics::register(&mut registry),
            ),
            Err(_) => bail!("the metrics registry is unusable"),
        };
        let auth = args.jwt.authenticator();
        let grpc = match (&store, roles.contains(&ServeRole::Services)) {
            (Some(store), true) => {
                let services =
                    careflow_services::server::services(store.clone(), auth.clone(), &command_metrics)
                        .await?;
                let listener = TcpListener::bind(args.grpc_addr)
                    .await
                    .with_context(|| format!("cannot listen for gRPC on {}", args.grpc_addr))?;
                Some((services, listener))
            }
            _ => None,
        };

        let workflows = match (&store, roles.contains(&ServeRole::Workflows)) {
            (Some(store), true) => {
                let endpoint = match (&args.services_url, &grpc) {
                    (Some(url), _) => url.clone(),
                    (None, Some((_, listener))) => format!("http://{}", listener.local_addr()?),
                    (None, None) => bail!("the workflows need --services-url"),
                };
                Some(Workflows::build(store, &endpoint, auth.clone()).await?)
            }
            _ => None,
        };

        let (ready, ready_rx) = watch::channel(false);
        let gateway = match (readers, roles.contains(&ServeRole::Gateway)) {
            (Some(readers), true) => {
                let grpc_endpoint = match (&args.services_url, &grpc) {
                    (Some(url), _) => url.clone(),
                    (None, Some((_, listener))) => format!("http://{}", listener.local_addr()?),
                    (None, None) => bail!("the gateway needs --services-url"),
                };
                let listener = TcpListener::bind(args.http_addr)
                    .await
                    .with_context(|| format!("cannot listen for HTTP on {}", args.http_addr))?;
                // The development secret is public: signing in as a demo person is no weaker.
                let dev_sign_in =
                    development.then(|| DevSignIn { personas: crate::demo::personas(), auth: auth.clone() });
                let config = GatewayConfig {
                    listener,
                    grpc_endpoint,
                    auth,
                    graphiql: args.graphiql,
                    read_your_writes_timeout: Duration::from_millis(args.read_your_writes_ms),
                    ready: ready_rx,
                    metrics: registry.clone(),
                    settings: GatewaySettings::default(),
                    dev_sign_in,
                };
                Some(Gateway::build(config, readers).await?)
            }
            _ => None,
        };
        let (ops, http_addr) = match &gateway {
            Some(gateway) => (None, gateway.local_addr()),
            None => {
                let listener = TcpListener::bind(args.http_addr)
                    .await
                    .with_context(|| format!("cannot listen for HTTP on {}", args.http_addr))?;
                let ops = OpsServer::build(listener, ready.subscribe(), registry)?;
                let addr = ops.local_addr();
                (Some(ops), addr)
            }
        };
        Ok(Self {
            roles,
            store,
            projections,
            grpc,
            gateway,
            ops,
            http_addr,
            ready,
            positions,
            demo: args.demo,
            seed_templates,
            workflows,
            workflow_metrics,
            projection_metrics,
        })
    }

    /// The event store this process opened (none for a gateway alone).
    pub fn store(&self) -> Option<Arc<dyn EventStore>> {
        self.store.clone()
    }

    /// The HTTP address: GraphQL and the ops endpoints, or the ops endpoints alone when this
    /// process runs no gateway.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The gRPC services' bound address, when this process runs them.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().and_then(|(_, listener)| listener.local_addr().ok())
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
        let (grpc_addr, http_addr) = (self.grpc_addr(), self.http_addr());

        let mut parts = JoinSet::new();
        let mut health = None;
        if let Some((services, listener)) = self.grpc {
            let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
            health = Some(services.health.clone());
            let grpc = services.router.serve_with_incoming_shutdown(incoming, stop_signal(stopped.clone()));
            parts.spawn(async move { grpc.await.context("gRPC server") });
        }
        if let Some(store) = &self.store
            && !self.projections.is_empty()
        {
            let host = host(store, &self.projections)
                .with_metrics(self.projection_metrics.clone())
                .run(stop_signal(stopped.clone()));
            parts.spawn(async move { host.await.context("read model projections") });
        }
        if let Some(gateway) = self.gateway {
            let gateway = gateway.run_until_stopped(stop_signal(stopped.clone()));
            parts.spawn(async move { gateway.await.context("GraphQL gateway") });
        }
        if let Some(workflows) = self.workflows {
            let clock_counts = (workflows.clock.pending(), workflows.clock.fired());
            let tracking = self.workflow_metrics.track(
                vec![
                    ("discharge", workflows.flows.counts()),
                    ("flag-rules", workflows.flag_rules.counts()),
                    ("assessments", workflows.assessments.counts()),
                    ("virtual-wards", workflows.virtual_wards.counts()),
                ],
                clock_counts,
                stopped.clone(),
            );
            parts.spawn(async move {
                tracking.await;
                anyhow::Ok(())
            });
            let flows = workflows.flows.run(stopped.clone());
            parts.spawn(async move { flows.await.context("the discharge workflows") });
            let flag_rules = workflows.flag_rules.run(stopped.clone());
            parts.spawn(async move { flag_rules.await.context("the flag rules") });
            let assessments = workflows.assessments.run(stopped.clone());
            parts.spawn(async move { assessments.await.context("the assessment workflows") });
            let virtual_wards = workflows.virtual_wards.run(stopped.clone());
            parts.spawn(async move { virtual_wards.await.context("the virtual ward workflows") });
            let clock = workflows.clock.run(stopped.clone());
            parts.spawn(async move { clock.await.context("the clock") });
        }
        if let Some(ops) = self.ops {
            let ops = ops.run_until_stopped(stop_signal(stopped.clone()));
            parts.spawn(async move { ops.await.context("health and metrics endpoints") });
        }
        if let Some(store) = &self.store
            && !self.projections.is_empty()
        {
            let tracking = self.positions.track(store.clone(), self.projections.clone(), stopped.clone());
            parts.spawn(async move {
                tracking.await;
                anyhow::Ok(())
            });
        }

        if let (Some(organisation), Some(store)) = (&self.seed_templates, &self.store) {
            crate::seed::shipped(store.clone(), organisation)
                .await
                .context("seeding the shipped templates")?;
        }
        if self.demo
            && let Some(store) = &self.store
        {
            crate::demo::load(store.clone()).await.context("loading the demo")?;
        }
        self.ready.send_replace(true);
        // The line scripts and tests wait for; logs go to stderr.
        let mut line = format!("careflow ready roles={}", names(&self.roles));
        if let Some(addr) = grpc_addr {
            line.push_str(&format!(" grpc={addr}"));
        }
        line.push_str(&format!(" http={http_addr}"));
        println!("{line}");
        tracing::info!(roles = names(&self.roles), ?grpc_addr, ?http_addr, "careflow ready");

        let mut result = tokio::select! {
            () = shutdown => Ok(()),
            Some(ended) = parts.join_next() => match ended {
                Ok(Ok(())) => Err(anyhow::anyhow!("a part of careflow stopped unexpectedly")),
                Ok(Err(error)) => Err(error),
                Err(join) => Err(join.into()),
            },
        };
        self.ready.send_replace(false);
        if let Some(health) = &health {
            health.set_not_serving().await;
        }
        stop.send_replace(true);
        // Every part finishes what it has in hand, for at most the drain time: a client that
        // keeps an idle connection open (a gRPC channel does) must not keep careflow running.
        let drained = tokio::time::sleep(DRAIN_TIME);
        tokio::pin!(drained);
        loop {
            tokio::select! {
                ended = parts.join_next() => {
                    let Some(ended) = ended else { break };
                    let ended = ended.map_err(anyhow::Error::from).and_then(|r| r);
                    if let Err(error) = ended {
                        tracing::error!(error = format!("{error:#}"), "error while stopping");
                        if result.is_ok() {
                            result = Err(error);
                        }
                    }
                }
                () = &mut drained => {
                    tracing::warn!(parts = parts.len(), ?DRAIN_TIME, "drain time over: closing what is still open");
                    parts.abort_all();
                    while parts.join_next().await.is_some() {}
                    break;
                }
            }
        }
        tracing::info!("stopped");
        result
    }
}
