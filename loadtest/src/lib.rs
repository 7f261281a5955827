//! careflow-loadtest: a morning on the wards, played against careflow's public APIs only —
//! GraphQL over HTTP (`POST /graphql`) and subscriptions over graphql-transport-ws
//! (`/graphql/ws`) — so it can load a remote gateway as well as a laptop's.
//!
//! 1. **Setup**, through the API as the care system's admins and staff (see [`setup`]): wards of
//!    40 beds with synthetic patients, ward teams, virtual wards with patients at home, an
//!    assessment per ward, a council, care providers and care requests. Every id carries the
//!    run's `--prefix`; the target needs nothing but the JWT secret its tokens are signed with.
//! 2. **Subscriptions**: `--subscriptions` of them, one WebSocket per device (ward tablets with
//!    the bed board and the team inbox, assessors' devices, virtual ward screens, the broker's
//!    and the care providers' screens), each waited for until it delivers.
//! 3. **Commands** at `--rate` per second for `--duration`, open loop, over the `--mix` of bed
//!    commands, tasks, assessment section saves, virtual ward readings and offers.
//! 4. **Report**: per operation, throughput and latency (p50/p90/p99/max); per push kind, the
//!    latency from a command's send to its push on another client; pushes missed; errors by
//!    code. A progress line while it runs, a [`Report::table`] at the end, JSON with `--json`.
//!
//! Depends on careflow's auth crate (to mint tokens) and its domain crate (for the assessment
//! templates careflow ships, published under the run's own ids), never on its servers.

mod args;
mod client;
mod drive;
mod error;
mod people;
mod plan;
mod progress;
mod report;
mod setup;
mod stats;
mod tokens;
mod tracker;
mod world;
mod ws;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use tokio::sync::watch;

pub use args::{Category, DEFAULT_MIX, DEV_JWT_SECRET, LoadtestArgs, Mix, MixError, parse_duration};
pub use error::LoadtestError;
pub use report::{
    DroppedReport, ErrorReport, KindCount, Latency, OperationReport, PushReport, Report, RunConfig,
    RunSummary, SetupSummary, SubscriptionSummary,
};

use crate::drive::Ctx;
use crate::stats::{PushKind, Stats};
use crate::tracker::Tracker;
use crate::world::{BedState, Lanes};

/// WebSockets opened at once.
const OPEN_CONCURRENCY: usize = 32;
/// How long the subscriptions may take to deliver their first data.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

fn invalid(option: &'static str, reason: impl Into<String>) -> LoadtestError {
    LoadtestError::InvalidOption { option, reason: reason.into() }
}

/// A random run prefix: six letters and digits.
fn random_prefix() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..6).map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())])).collect()
}

fn check(args: &LoadtestArgs) -> Result<String, LoadtestError> {
    if !args.target.starts_with("http://") {
        return Err(invalid("target", "must be the gateway's plain http:// address (this build has no TLS)"));
    }
    if !(args.rate.is_finite() && args.rate > 0.0 && args.rate <= 100_000.0) {
        return Err(invalid("rate", "must be more than 0 and at most 100000 commands per second"));
    }
    if !(1..=200).contains(&args.wards) {
        return Err(invalid("wards", "must be 1–200"));
    }
    if !(6..=100_000).contains(&args.subscriptions) {
        return Err(invalid("subscriptions", "must be 6–100000 (one of each kind at least)"));
    }
    if args.max_in_flight == 0 || args.max_in_flight > 100_000 {
        return Err(invalid("max-in-flight", "must be 1–100000"));
    }
    if args.duration.is_zero() {
        return Err(invalid("duration", "must be more than 0"));
    }
    match &args.prefix {
        Some(prefix) => args::check_prefix(prefix).map_err(|reason| invalid("prefix", reason)),
        None => Ok(random_prefix()),
    }
}

/// Runs a load test: sets up, opens the subscriptions, drives commands, and reports (also to
/// `--json`). Refused commands and missed pushes are counted in the report, not returned as
/// errors; an error means the run could not take place (bad options, an unreachable target, a
/// setup step refused, subscriptions that never delivered).
pub async fn run(args: LoadtestArgs) -> Result<Report, LoadtestError> {
    let prefix = check(&args)?;
    let progress = !args.no_progress;
    let say = |what: &str| {
        if progress {
            eprintln!("loadtest {prefix}: {what}");
        }
    };
    let gql = client::Gql::new(&args.target, args.max_in_flight)?;
    let ttl = chrono::Duration::from_std(args.duration).unwrap_or(chrono::Duration::days(1))
        + chrono::Duration::hours(6);
    let minter = tokens::Minter::new(&args.jwt_secret, &args.jwt_issuer, &args.jwt_audience, ttl);
    let seconds = args.duration.as_secs_f64();

    // 1. Setup.
    let size = setup::Size::new(
        usize::try_from(args.wards).unwrap_or(1),
        args.rate,
        seconds,
        args.mix.share(Category::Offers),
    );
    say(&format!("setting up {} wards against {}", size.wards, args.target));
    let set_up = setup::run(&gql, &minter, &prefix, size, seconds / 3600.0, &say).await?;
    let summary = set_up.summary.clone();
    say(&format!("set up in {:.1} s ({} requests)", summary.seconds, summary.requests));

    // 2. Subscriptions.
    let plan = plan::plan(&set_up.world, args.subscriptions, &minter, &set_up.trust, &set_up.council)?;
    let stats = Arc::new(Stats::new()?);
    let tracker = Arc::new(Tracker::new());
    let shared = Arc::new(ws::Shared::new(plan.kinds.clone(), tracker.clone(), stats.clone()));
    let url = ws::url_of(&args.target);
    say(&format!("opening {} subscriptions on {} sockets", plan.kinds.len(), plan.devices.len()));
    let opening = Instant::now();
    let sockets: Vec<ws::Socket> = futures::stream::iter(plan.devices.iter().map(|d| ws::open(&url, d)))
        .buffered(OPEN_CONCURRENCY)
        .try_collect()
        .await?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let readers: Vec<_> = sockets
        .into_iter()
        .zip(&plan.devices)
        .map(|(socket, device)| {
            let subs = device.subs.iter().map(|s| s.id).collect();
            tokio::spawn(ws::serve(socket, subs, shared.clone(), stop_rx.clone()))
        })
        .collect();
    let ctx = Arc::new(Ctx {
        gql,
        lanes: Mutex::new(Lanes::new(&set_up.world)),
        world: set_up.world,
        audience: plan.audience,
        shared: shared.clone(),
        stats: stats.clone(),
        tracker: tracker.clone(),
        today: set_up.today,
    });
    let outcome = async {
        wait_ready(&ctx, opening).await?;
        let ready_seconds = opening.elapsed().as_secs_f64();
        say(&format!("every subscription delivered within {ready_seconds:.1} s"));
        let subscriptions = SubscriptionSummary {
            sockets: plan.devices.len(),
            total: plan.kinds.len(),
            by_kind: PushKind::ALL
                .iter()
                .map(|k| KindCount {
                    kind: k.name().to_owned(),
                    count: plan.kinds.iter().filter(|x| *x == k).count(),
                })
                .collect(),
            ready_seconds,
        };

        // 3. Commands. What setup and readiness pushed is not the run's.
        for kind in PushKind::ALL {
            stats.push(kind).received.store(0, std::sync::atomic::Ordering::Relaxed);
        }
        let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let (run_tx, run_rx) = watch::channel(false);
        let sweeper =
            tokio::spawn(drive::sweep(tracker.clone(), stats.clone(), args.push_timeout, run_rx.clone()));
        let shower = progress.then(|| tokio::spawn(progress::show(stats.clone(), args.duration, run_rx)));
        say(&format!("driving {:.0} commands/s for {:.0} s ({})", args.rate, seconds, args.mix));
        let seed = u64::from(people::fnv1a(prefix.as_bytes()))
            ^ u64::from(chrono::Utc::now().timestamp_subsec_nanos());
        let drove =
            drive::run(ctx.clone(), args.mix, args.rate, args.duration, args.max_in_flight, seed).await;
        // The last pushes: until each arrived or timed out.
        let deadline = Instant::now() + args.push_timeout + Duration::from_millis(250);
        while tracker.awaited() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = run_tx.send(true);
        let _ = sweeper.await;
        if let Some(shower) = shower {
            let _ = shower.await;
        }
        let far = Instant::now() + Duration::from_secs(3600);
        drive::count_missed(&stats, tracker.sweep(far, args.push_timeout, Duration::ZERO), args.push_timeout);
        Ok::<_, LoadtestError>((subscriptions, started_at, drove))
    }
    .await;
    shared.stop();
    let _ = stop_tx.send(true);
    for reader in readers {
        let _ = reader.await;
    }
    let (subscriptions, started_at, drove) = outcome?;

    // 4. The report.
    let context = report::Context {
        target: args.target.clone(),
        prefix: prefix.clone(),
        started_at,
        config: RunConfig {
            duration_s: seconds,
            rate: args.rate,
            wards: args.wards,
            subscriptions: args.subscriptions,
            mix: args.mix.to_string(),
            max_in_flight: args.max_in_flight,
            push_timeout_s: args.push_timeout.as_secs_f64(),
        },
        setup: summary,
        subscriptions,
        seconds: drove.as_secs_f64(),
    };
    let report = Report::build(context, &stats);
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json)
            .map_err(|source| LoadtestError::WriteReport { path: path.clone(), source })?;
    }
    Ok(report)
}

/// Waits until every subscription has delivered: those that start with the current state
/// (inboxes, assessments, censuses, the market) by themselves; bed boards, which push only
/// changes, once a probe on their ward (an expected discharge date set, outside the
/// measurements) has reached them.
async fn wait_ready(ctx: &Ctx, opening: Instant) -> Result<(), LoadtestError> {
    let shared = &ctx.shared;
    let deadline = opening + READY_TIMEOUT;
    let mut round = 0u32;
    loop {
        let waiting: Vec<u32> = shared.subs().filter(|s| !shared.is_ready(*s)).collect();
        if waiting.is_empty() {
            return Ok(());
        }
        let dead = waiting.iter().filter(|s| !shared.is_alive(**s)).count();
        if dead > 0 || Instant::now() >= deadline {
            let mut by_kind: Vec<String> = PushKind::ALL
                .iter()
                .filter_map(|k| {
                    let n = waiting.iter().filter(|s| shared.kind(**s) == Some(*k)).count();
                    (n > 0).then(|| format!("{} {}", n, k.name()))
                })
                .collect();
            if let Some(refusal) = shared.first_refusal() {
                by_kind.push(format!("first refusal: {refusal}"));
            }
            return Err(LoadtestError::NotReady {
                missing: waiting.len(),
                waited: opening.elapsed(),
                detail: by_kind.join(", "),
            });
        }
        // Probe the wards whose bed boards have not delivered yet (not in the first moment:
        // the others deliver on their own, and the subscriptions need a moment to start).
        if round > 0 && round.is_multiple_of(5) {
            let wards: Vec<usize> = (0..ctx.world.wards.len())
                .filter(|w| ctx.audience.bed_board[*w].iter().any(|s| !shared.is_ready(*s)))
                .collect();
            for w in wards {
                let bed = w * setup::BEDS_PER_WARD;
                let stay = match ctx.lanes.lock().ok().and_then(|l| l.bed(bed).cloned()) {
                    Some(BedState::Occupied { stay, .. }) => stay,
                    _ => continue,
                };
                let day = 100 + round / 5;
                if ctx.probe(bed, &stay, day).await
                    && let Ok(mut lanes) = ctx.lanes.lock()
                {
                    lanes.probed(bed, day);
                }
            }
        }
        round += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
