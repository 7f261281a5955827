//! `careflow bench`: the figures in BENCHMARKS.md. Each part runs on fresh stores in a temporary
//! folder and prints one line per measure.
//!
//! - `append`: durable appends/s with 1, 8 and 64 concurrent writers, 1 event per append
//!   (~200 B data, ~170 B metadata) over 10,000 streams, expected version checked.
//! - `replay`: `$all` read from position 1 with every payload decoded, events/s.
//! - `subscribe`: append → live subscriber latency, p50/p99, at a steady rate.
//! - `decide`: a command on a stream with 10,000 events against one on a new stream, through
//!   the real command handler.
//! - `push`: GraphQL mutation → graphql-ws push on another client, p50/p99, at a steady rate,
//!   through the real gateway, gRPC service, event store and projection (with `--backend
//!   postgres`: PostgreSQL and Redis read models).
//! - `summary`: a patient's whole record queried by concurrent GraphQL clients over the demo's
//!   patients while their demographics change at a steady rate: queries/s, p50/p99.
//! - `workflow`: event → task visible in the team's inbox (the discharge workflow routing a
//!   trusted assessment), p50/p99, at a steady rate.
//! - `timers`: deadlines fired per second with 100,000 pending, through the real command path.
//!
//! - `market`: with 1,000 care requests open (five offers each): offers ranked/s by the pure
//!   ranking, the `careMarket` query, and the market's command → push legs of the flow.
//!
//! `--backend postgres` runs every part on fresh PostgreSQL schemas (and Redis key prefixes),
//! dropped at the end.

mod backend;
mod coedit;
mod decide;
mod market;
mod push;
mod readings;
mod running;
mod store;
mod summary;
mod workflow;
mod ws;

use std::path::PathBuf;
use std::time::Duration;

use backend::{Backend, Stores};
use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;

/// The parts of the benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Part {
    /// Durable appends/s.
    Append,
    /// `$all` replay events/s.
    Replay,
    /// Append → live subscriber latency.
    Subscribe,
    /// GraphQL mutation → subscription push latency.
    Push,
    /// A command on a long stream against one on a new stream.
    Decide,
    /// Patient-summary queries under load.
    Summary,
    /// Event → task in the inbox latency.
    Workflow,
    /// Deadlines fired per second.
    Timers,
    /// Section save → other editors' push latency on one assessment.
    Coedit,
    /// Virtual-ward readings/s through the public API, and reading → census push latency.
    Readings,
    /// The care market: offers ranked/s, the market query, and command → push per leg.
    Market,
}

/// Flags of `careflow bench`.
#[derive(Debug, Clone, Args)]
pub struct BenchArgs {
    /// Which parts to run.
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Part::Append, Part::Replay, Part::Subscribe, Part::Push, Part::Decide, Part::Summary, Part::Workflow, Part::Timers, Part::Coedit, Part::Readings, Part::Market])]
    pub only: Vec<Part>,
    /// Folder for the temporary stores (default: the system temp folder).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Event store backend measured.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    pub backend: Backend,
    /// PostgreSQL database for `--backend postgres` (each part gets a fresh schema, dropped at
    /// the end).
    #[arg(
        long,
        env = "CAREFLOW_DATABASE_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    pub database_url: String,
    /// Redis for the read models of `push` with `--backend postgres` (fresh key prefix,
    /// deleted at the end).
    #[arg(long, env = "CAREFLOW_REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,
    /// Concurrent writers for `append` (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 8, 64])]
    pub writers: Vec<usize>,
    /// Appends per writer count in `append`.
    #[arg(long, default_value_t = 100_000)]
    pub appends: usize,
    /// Streams the appends spread over.
    #[arg(long, default_value_t = 10_000)]
    pub streams: usize,
    /// Events written, then replayed, by `replay`.
    #[arg(long, default_value_t = 1_000_000)]
    pub replay_events: usize,
    /// Appends (for `subscribe`) or commands (for `push`) sent per second.
    #[arg(long, default_value_t = 500)]
    pub rate: u32,
    /// Samples for the latency parts.
    #[arg(long, default_value_t = 5_000)]
    pub samples: usize,
    /// Events already in the long stream of `decide`.
    #[arg(long, default_value_t = 10_000)]
    pub history: usize,
    /// Concurrent GraphQL clients of `summary`.
    #[arg(long, default_value_t = 16)]
    pub summary_clients: usize,
    /// How long `summary` queries, in seconds.
    #[arg(long, default_value_t = 10)]
    pub summary_seconds: u64,
    /// Demographics updates per second during `summary`.
    #[arg(long, default_value_t = 50)]
    pub summary_writes: u32,
    /// Medically-optimised marks per second in `workflow`.
    #[arg(long, default_value_t = 100)]
    pub workflow_rate: u32,
    /// Deadlines pending when `timers` starts.
    #[arg(long, default_value_t = 100_000)]
    pub timers_pending: usize,
    /// People following one assessment in `coedit`.
    #[arg(long, default_value_t = 20)]
    pub editors: usize,
    /// Section saves per second on that assessment in `coedit`.
    #[arg(long, default_value_t = 20)]
    pub coedit_rate: u32,
    /// Section saves in `coedit`.
    #[arg(long, default_value_t = 1_000)]
    pub coedit_saves: usize,
    /// Patients on the virtual ward of `readings`.
    #[arg(long, default_value_t = 200)]
    pub vw_patients: usize,
    /// Device gateways (connections) sending readings in `readings`.
    #[arg(long, default_value_t = 8)]
    pub vw_gateways: usize,
    /// Readings per `recordObservations` in `readings`.
    #[arg(long, default_value_t = 100)]
    pub vw_batch: usize,
    /// Readings sent in the throughput phase of `readings`.
    #[arg(long, default_value_t = 50_000)]
    pub vw_readings: usize,
    /// Single readings per second in the latency phase of `readings`.
    #[arg(long, default_value_t = 50)]
    pub vw_rate: u32,
    /// Open care requests in `market` (five offers each).
    #[arg(long, default_value_t = 1_000)]
    pub market_requests: usize,
}

/// Runs the selected parts.
pub async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let dir = tempfile::Builder::new().prefix("careflow-bench-").tempdir_in(parent)?;
    let stores = Stores::new(
        args.backend,
        dir.path().to_path_buf(),
        args.database_url.clone(),
        args.redis_url.clone(),
    );
    let where_ = match args.backend {
        Backend::Sqlite => dir.path().display().to_string(),
        Backend::Postgres => format!("fresh schemas at {}", args.database_url),
    };
    println!(
        "careflow bench: {} cores; {} stores in {where_}",
        std::thread::available_parallelism()?,
        args.backend.name()
    );
    let result = run_parts(&args, &stores).await;
    stores.cleanup().await?;
    result
}

async fn run_parts(args: &BenchArgs, stores: &Stores) -> anyhow::Result<()> {
    let backend = stores.backend.name();
    for part in &args.only {
        match part {
            Part::Append => {
                for &writers in &args.writers {
                    let report = store::append(stores, writers, args.streams, args.appends).await?;
                    println!(
                        "append  {backend} writers={writers:<3} appends={:<8} {:>10.0} appends/s",
                        report.count,
                        report.per_second()
                    );
                }
            }
            Part::Replay => {
                let report = store::replay(stores, args.replay_events).await?;
                println!(
                    "replay  {backend} events={:<8} {:>10.0} events/s (payload decoded)",
                    report.count,
                    report.per_second()
                );
            }
            Part::Subscribe => {
                let histogram = store::subscribe_latency(stores, args.rate, args.samples).await?;
                print_latency(&format!("subscribe {backend} append→live subscriber"), args.rate, &histogram);
            }
            Part::Push => {
                let histogram = push::latency(stores, args.rate, args.samples).await?;
                if (histogram.len() as usize) < args.samples {
                    println!(
                        "push    {} mutations made {} pushes (changes to one bed within one projection batch push once)",
                        args.samples,
                        histogram.len()
                    );
                }
                print_latency("push    GraphQL mutation→subscription push", args.rate, &histogram);
            }
            Part::Decide => {
                let samples = args.samples.min(2_000);
                let report = decide::run(stores, args.history, samples).await?;
                let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
                let (new, long) = (&report.new_stream, &report.long_stream);
                for (what, h) in [("new stream", new), (&*format!("{} events", args.history), long)] {
                    println!(
                        "decide  {backend} {what:<14} samples={} mean={:.3} ms p50={:.3} ms p99={:.3} ms",
                        h.len(),
                        h.mean() / 1000.0,
                        ms(h, 0.5),
                        ms(h, 0.99)
                    );
                }
                println!(
                    "decide  {backend} long/new mean ratio {:.2}; first command on the long stream from a cold handler {:.2} ms",
                    long.mean() / new.mean().max(f64::EPSILON),
                    report.cold_first as f64 / 1000.0
                );
            }
            Part::Workflow => {
                let histogram = workflow::latency(stores, args.workflow_rate, args.samples).await?;
                print_latency("workflow event→task in the team's inbox", args.workflow_rate, &histogram);
            }
            Part::Timers => {
                let report = workflow::timers(stores, args.timers_pending).await?;
                println!(
                    "timers  {backend} pending={} fired in {:.2} s: {:>8.0} deadlines/s (marked overdue and escalated, shown in the read model)",
                    report.pending,
                    report.fired.elapsed.as_secs_f64(),
                    report.fired.per_second()
                );
            }
            Part::Coedit => {
                let histogram =
                    coedit::latency(stores, args.editors, args.coedit_rate, args.coedit_saves).await?;
                print_latency(
                    &format!("coedit  {backend} section save→push to each of {} editors", args.editors),
                    args.coedit_rate,
                    &histogram,
                );
            }
            Part::Readings => {
                let r = readings::run(
                    stores,
                    args.vw_patients,
                    args.vw_gateways,
                    args.vw_batch,
                    args.vw_readings,
                    args.vw_rate,
                    args.samples.min(2_000),
                )
                .await?;
                println!(
                    "readings {backend} patients={} gateways={} batch={} readings={} in {:.2} s: {:>8.0} readings/s (scored, escalated, census live: {} pushes)",
                    args.vw_patients,
                    args.vw_gateways,
                    args.vw_batch,
                    r.readings,
                    r.elapsed.as_secs_f64(),
                    r.readings as f64 / r.elapsed.as_secs_f64(),
                    r.pushes
                );
                print_latency(&format!("readings {backend} reading→census push"), args.vw_rate, &r.latency);
            }
            Part::Market => {
                let r = market::run(stores, args.market_requests, args.samples.min(200)).await?;
                println!(
                    "market  ranking {} open requests x 5 offers: {:>10.0} offers ranked/s (rule 50/30/10/10, every score explained)",
                    args.market_requests,
                    r.ranked.per_second()
                );
                let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
                println!(
                    "market  {backend} careMarket query, {} open requests ranked and served ({} KB): p50={:.2} ms p99={:.2} ms",
                    args.market_requests,
                    r.answer_bytes / 1024,
                    ms(&r.query, 0.5),
                    ms(&r.query, 0.99)
                );
                for (leg, h) in [
                    ("postCareRequest→provider's push", &r.post),
                    ("makeOffer→broker's market push", &r.offer),
                    ("acceptOffer→winner's push, identified", &r.accept),
                ] {
                    println!(
                        "market  {backend} {leg}: samples={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
                        h.len(),
                        ms(h, 0.5),
                        ms(h, 0.99),
                        h.max() as f64 / 1000.0
                    );
                }
            }
            Part::Summary => {
                let seconds = Duration::from_secs(args.summary_seconds);
                let report = summary::run(stores, args.summary_clients, seconds, args.summary_writes).await?;
                let ms = |q: f64| report.latency.value_at_quantile(q) as f64 / 1000.0;
                println!(
                    "summary {backend} clients={} patients={} {:>8.0} queries/s p50={:.2} ms p99={:.2} ms max={:.2} ms; {:.0} demographics updates/s meanwhile",
                    args.summary_clients,
                    report.patients,
                    report.queries.per_second(),
                    ms(0.5),
                    ms(0.99),
                    report.latency.max() as f64 / 1000.0,
                    report.writes.per_second()
                );
            }
        }
    }
    Ok(())
}

/// A count over a duration.
pub struct Throughput {
    /// How many.
    pub count: u64,
    /// How long.
    pub elapsed: Duration,
}

impl Throughput {
    /// Per second.
    pub fn per_second(&self) -> f64 {
        self.count as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// A histogram of microseconds, 1 µs to 60 s.
pub fn micros_histogram() -> anyhow::Result<Histogram<u64>> {
    Ok(Histogram::new_with_bounds(1, 60_000_000, 3)?)
}

fn print_latency(what: &str, rate: u32, histogram: &Histogram<u64>) {
    let ms = |q: f64| histogram.value_at_quantile(q) as f64 / 1000.0;
    println!(
        "{what}: rate={rate}/s samples={} p50={:.2} ms p99={:.2} ms max={:.2} ms",
        histogram.len(),
        ms(0.5),
        ms(0.99),
        histogram.max() as f64 / 1000.0
    );
}
