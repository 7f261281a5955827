//! Command line and configuration: every flag can also be set by a `CAREFLOW_*` variable.

use std::net::SocketAddr;
use std::path::PathBuf;

use careflow_auth::{Actor, Authenticator, JwtConfig, Role};
use clap::{Args, Parser, Subcommand, ValueEnum};

/// The development secret: published in this repository, so anyone can mint any token with it.
/// `careflow serve` accepts it only for the embedded laptop run (with a warning) and refuses it
/// on PostgreSQL or with split roles: see [`check_jwt_secret`].
pub const DEV_JWT_SECRET: &str = "careflow-dev-secret-change-me";

/// How `careflow serve` may use the JWT secret it was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtSecretUse {
    /// A secret of the deployment's own.
    Configured,
    /// The development secret, on the embedded laptop run: allowed, with a warning.
    Development,
}

/// Why `careflow serve` refuses to start with the JWT secret it was given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtSecretError {
    /// The development secret outside the embedded laptop run.
    #[error(
        "refusing the development JWT secret with {deployment}: it is public, so anyone could mint an \
         admin token; set CAREFLOW_JWT_SECRET (or --jwt-secret) to a secret of your own"
    )]
    Development {
        /// What makes this run a deployment (`--store postgres`, `--only …`).
        deployment: String,
    },
    /// An empty secret (e.g. `CAREFLOW_JWT_SECRET=` with nothing after it).
    #[error("the JWT secret is empty: set CAREFLOW_JWT_SECRET (or --jwt-secret) to a secret of your own")]
    Empty,
}

/// Checks the JWT secret for a run described by `deployment`: `None` for the embedded laptop
/// run (SQLite or in-memory store, every role in one process), else what makes it a deployment
/// shared with others (`--store postgres`, split roles). The development secret is allowed only
/// on the laptop run; an empty secret never.
pub fn check_jwt_secret(secret: &str, deployment: Option<&str>) -> Result<JwtSecretUse, JwtSecretError> {
    if secret.is_empty() {
        return Err(JwtSecretError::Empty);
    }
    match (secret == DEV_JWT_SECRET, deployment) {
        (false, _) => Ok(JwtSecretUse::Configured),
        (true, None) => Ok(JwtSecretUse::Development),
        (true, Some(deployment)) => Err(JwtSecretError::Development { deployment: deployment.to_owned() }),
    }
}

/// careflow: shared tasking, bed state and discharge workflows for health and social care.
#[derive(Debug, Parser)]
#[command(name = "careflow", version, about, long_about = None)]
pub struct Cli {
    /// What to do (default: serve).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run careflow: gRPC services, projections and the GraphQL gateway in one process, on an
    /// embedded event store in --data-dir; or some of them (--only) against PostgreSQL and Redis.
    Serve(ServeArgs),
    /// Create or upgrade the PostgreSQL event store schema, then exit.
    Migrate(MigrateArgs),
    /// Print a development JWT for the gateway and the gRPC services.
    Token(TokenArgs),
    /// Measure the event store and the command → subscription path (see BENCHMARKS.md).
    Bench(crate::bench::BenchArgs),
    /// Play a morning on the wards against a gateway's public API: tablets, inboxes,
    /// assessment editors, virtual-ward readings and care offers (see loadtest/README.md).
    Loadtest(careflow_loadtest::LoadtestArgs),
}

impl Default for Command {
    fn default() -> Self {
        Self::Serve(ServeArgs::parse_from(["serve"]))
    }
}

/// Which event store backend `serve` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// SQLite file in --data-dir (durable; the default).
    Sqlite,
    /// In memory (nothing survives; for experiments).
    Memory,
    /// PostgreSQL at --database-url (production; any number of processes share it).
    Postgres,
}

/// A role `careflow serve` can run; by default one process runs them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum ServeRole {
    /// The gRPC command services (they append to the event store).
    Services,
    /// The projections (they keep the read models from the event store).
    Projections,
    /// The GraphQL gateway (it reads the read models and sends commands to the services).
    Gateway,
    /// The workflows and the one clock (they follow the event store and send commands to the
    /// services).
    Workflows,
}

impl ServeRole {
    /// Every role.
    pub const ALL: [ServeRole; 4] =
        [ServeRole::Services, ServeRole::Projections, ServeRole::Gateway, ServeRole::Workflows];

    /// The role's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Services => "services",
            Self::Projections => "projections",
            Self::Gateway => "gateway",
            Self::Workflows => "workflows",
        }
    }
}

/// Where the read models live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReadModelKind {
    /// In the process's memory, rebuilt from the log at start-up (one process runs
    /// projections and gateway).
    Memory,
    /// In Redis at --redis-url: shared by every gateway, changes fanned out by pub/sub.
    Redis,
}

/// Where the PostgreSQL event store is, shared by `serve` and `migrate`.
#[derive(Debug, Clone, Args)]
pub struct PostgresArgs {
    /// PostgreSQL connection string, e.g. postgres://careflow@db:5432/careflow.
    #[arg(
        long,
        env = "CAREFLOW_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub database_url: String,
    /// PostgreSQL schema holding the event store tables.
    #[arg(long, env = "CAREFLOW_DATABASE_SCHEMA", default_value = careflow_eventstore::postgres::DEFAULT_SCHEMA)]
    pub database_schema: String,
}

impl PostgresArgs {
    /// The store options these flags describe.
    pub fn options(&self) -> careflow_eventstore::postgres::PostgresOptions {
        careflow_eventstore::postgres::PostgresOptions::new(&self.database_url)
            .with_schema(&self.database_schema)
    }
}

/// Flags of `careflow migrate`.
#[derive(Debug, Clone, Parser)]
pub struct MigrateArgs {
    /// The database.
    #[command(flatten)]
    pub postgres: PostgresArgs,
}

/// Flags of `careflow serve`.
#[derive(Debug, Clone, Parser)]
pub struct ServeArgs {
    /// Folder of the embedded event store.
    #[arg(long, env = "CAREFLOW_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Event store backend.
    #[arg(long, env = "CAREFLOW_STORE", value_enum, default_value_t = StoreKind::Sqlite)]
    pub store: StoreKind,
    /// Run only these roles (comma-separated or repeated); the others run in other processes.
    /// Default: all of them.
    #[arg(long, env = "CAREFLOW_ONLY", value_enum, value_delimiter = ',')]
    pub only: Vec<ServeRole>,
    /// gRPC endpoint of the services, for a gateway or workflows running without them
    /// (e.g. http://careflow-services:50051).
    #[arg(long, env = "CAREFLOW_SERVICES_URL")]
    pub services_url: Option<String>,
    /// Where the read models live.
    #[arg(long, env = "CAREFLOW_READ_MODELS", value_enum, default_value_t = ReadModelKind::Memory)]
    pub read_models: ReadModelKind,
    /// Redis URL (with --read-models redis).
    #[arg(long, env = "CAREFLOW_REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Prefix of every Redis key and channel careflow uses (with --read-models redis).
    #[arg(long, env = "CAREFLOW_REDIS_PREFIX", default_value = "careflow:")]
    pub redis_prefix: String,
    /// With --store postgres: apply pending schema migrations at start-up.
    #[arg(long, env = "CAREFLOW_MIGRATE")]
    pub migrate: bool,
    /// The PostgreSQL event store (with --store postgres).
    #[command(flatten)]
    pub postgres: PostgresArgs,
    /// Address of every gRPC service (port 0 picks a free port).
    #[arg(long, env = "CAREFLOW_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    /// Address of the GraphQL gateway and health/metrics endpoints (port 0 picks a free port).
    #[arg(long, env = "CAREFLOW_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    /// Publish the assessment templates careflow ships and the frailty flag rule, owned by this
    /// organisation (ODS code), once: later starts add nothing, and keep an admin's changes.
    #[arg(long, env = "CAREFLOW_SEED_TEMPLATES", value_name = "ODS")]
    pub seed_templates: Option<String>,
    /// Load the synthetic demo (sites, wards, ~300 beds, patients) once; re-running adds nothing.
    #[arg(long, env = "CAREFLOW_DEMO")]
    pub demo: bool,
    /// Serve GraphiQL at /graphiql and allow schema introspection.
    #[arg(long, env = "CAREFLOW_GRAPHIQL")]
    pub graphiql: bool,
    /// How long a mutation waits for the read models to reflect it, in milliseconds.
    #[arg(long, env = "CAREFLOW_READ_YOUR_WRITES_MS", default_value_t = 2000)]
    pub read_your_writes_ms: u64,
    /// Token settings.
    #[command(flatten)]
    pub jwt: JwtArgs,
    /// Logging.
    #[command(flatten)]
    pub log: LogArgs,
}

impl ServeArgs {
    /// What makes this run a deployment rather than the embedded laptop run, if anything:
    /// `--store postgres`, or split roles (`--only` naming fewer than every role).
    pub fn deployment(&self) -> Option<String> {
        if self.store == StoreKind::Postgres {
            return Some("--store postgres".into());
        }
        let split = !self.only.is_empty() && ServeRole::ALL.iter().any(|role| !self.only.contains(role));
        split.then(|| {
            let roles: Vec<&str> = self.only.iter().map(|role| role.name()).collect();
            format!("split roles (--only {})", roles.join(","))
        })
    }

    /// [`check_jwt_secret`] for this run.
    pub fn check_jwt_secret(&self) -> Result<JwtSecretUse, JwtSecretError> {
        check_jwt_secret(&self.jwt.jwt_secret, self.deployment().as_deref())
    }
}

/// JWT settings, shared by `serve` and `token`.
#[derive(Debug, Clone, Args)]
pub struct JwtArgs {
    /// HS256 secret for bearer tokens.
    #[arg(long, env = "CAREFLOW_JWT_SECRET", default_value = DEV_JWT_SECRET, hide_default_value = true)]
    pub jwt_secret: String,
    /// Expected token issuer.
    #[arg(long, env = "CAREFLOW_JWT_ISSUER", default_value = "careflow")]
    pub jwt_issuer: String,
    /// Expected token audience.
    #[arg(long, env = "CAREFLOW_JWT_AUDIENCE", default_value = "careflow")]
    pub jwt_audience: String,
}

impl JwtArgs {
    /// The authenticator these settings describe.
    pub fn authenticator(&self) -> Authenticator {
        Authenticator::new(JwtConfig {
            secret: self.jwt_secret.clone(),
            issuer: self.jwt_issuer.clone(),
            audience: self.jwt_audience.clone(),
        })
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Logging and tracing flags.
#[derive(Debug, Clone, Args)]
pub struct LogArgs {
    /// Log filter (tracing EnvFilter syntax).
    #[arg(long, env = "CAREFLOW_LOG", default_value = "info")]
    pub log: String,
    /// Log format.
    #[arg(long, env = "CAREFLOW_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Export spans to this OpenTelemetry collector (OTLP/gRPC, e.g. http://127.0.0.1:4317).
    #[arg(long, env = "CAREFLOW_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
}

impl LogArgs {
    /// Warnings only, as text.
    pub fn quiet() -> Self {
        Self { log: "warn".into(), log_format: LogFormat::Text, otlp_endpoint: None }
    }
}

/// Flags of `careflow token`.
#[derive(Debug, Clone, Parser)]
pub struct TokenArgs {
    /// User id (the token's subject).
    #[arg(long)]
    pub user: String,
    /// Role: ward_nurse, ward_clerk, housekeeping, bed_manager, social_worker, therapist,
    /// community_nurse, virtual_ward_clinician, broker, commissioner, care_provider, analyst, admin;
    /// careflow (careflow's own workflows and clock, for tools that act as them).
    #[arg(long)]
    pub role: String,
    /// ODS code of the user's organisation.
    #[arg(long)]
    pub org: String,
    /// Teams (repeatable).
    #[arg(long = "team")]
    pub teams: Vec<String>,
    /// Validity in hours.
    #[arg(long, default_value_t = 12)]
    pub ttl_hours: i64,
    /// Token settings.
    #[command(flatten)]
    pub jwt: JwtArgs,
}

/// `careflow token`: prints a token.
pub fn print_token(args: &TokenArgs) -> anyhow::Result<()> {
    let role: Role = args.role.parse()?;
    let actor =
        Actor { user_id: args.user.clone(), role, organisation: args.org.clone(), teams: args.teams.clone() };
    let token = args.jwt.authenticator().issue(
        &actor,
        chrono::Utc::now(),
        chrono::Duration::hours(args.ttl_hours),
    )?;
    println!("{token}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serve(args: &[&str]) -> ServeArgs {
        ServeArgs::try_parse_from([&["serve"], args].concat()).expect("valid flags")
    }

    #[test]
    fn the_development_secret_is_for_the_embedded_laptop_run_only() {
        assert_eq!(check_jwt_secret(DEV_JWT_SECRET, None), Ok(JwtSecretUse::Development));
        assert_eq!(check_jwt_secret("a-secret-of-our-own", None), Ok(JwtSecretUse::Configured));
        assert_eq!(
            check_jwt_secret("a-secret-of-our-own", Some("--store postgres")),
            Ok(JwtSecretUse::Configured)
        );
        let refused = check_jwt_secret(DEV_JWT_SECRET, Some("--store postgres"));
        assert_eq!(refused, Err(JwtSecretError::Development { deployment: "--store postgres".into() }));
        let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("CAREFLOW_JWT_SECRET") && message.contains("--store postgres"), "{message}");
        assert_eq!(check_jwt_secret("", None), Err(JwtSecretError::Empty));
        assert_eq!(check_jwt_secret("", Some("--store postgres")), Err(JwtSecretError::Empty));
    }

    #[test]
    fn postgres_and_split_roles_are_deployments() {
        let embedded: [&[&str]; 4] = [
            &[],
            &["--store", "memory"],
            &["--store", "sqlite", "--demo"],
            &["--only", "gateway,services,projections,workflows"],
        ];
        for args in embedded {
            assert_eq!(serve(args).deployment(), None, "{args:?}");
            assert_eq!(serve(args).check_jwt_secret(), Ok(JwtSecretUse::Development), "{args:?}");
        }
        let deployments: [(&[&str], &str); 4] = [
            (&["--store", "postgres"], "--store postgres"),
            (&["--store", "postgres", "--only", "services"], "--store postgres"),
            (&["--only", "gateway", "--services-url", "http://services:50051"], "--only gateway"),
            (&["--only", "services,projections"], "--only services,projections"),
        ];
        for (args, named) in deployments {
            let deployment = serve(args).deployment().unwrap_or_default();
            assert!(deployment.contains(named), "{args:?}: {deployment}");
            assert!(
                matches!(serve(args).check_jwt_secret(), Err(JwtSecretError::Development { .. })),
                "{args:?}"
            );
            let own = serve(&[args, &["--jwt-secret", "a-secret-of-our-own"]].concat());
            assert_eq!(own.check_jwt_secret(), Ok(JwtSecretUse::Configured), "{args:?}");
        }
    }
}
