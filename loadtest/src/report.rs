//! The report: what was set up, what ran, how fast each operation and each push was (p50, p90,
//! p99, max in ms), what was dropped, and every error by code. Serialises to JSON; [`Report::table`]
//! is the summary printed at the end.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use hdrhistogram::Histogram;
use serde::Serialize;

use crate::args::Category;
use crate::stats::{Op, PushKind, Stats};

/// A latency distribution, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_ms: f64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest.
    pub max_ms: f64,
}

impl Latency {
    /// Summarises a µs histogram.
    pub fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self {
                count: 0,
                mean_ms: 0.0,
                p50_ms: 0.0,
                p90_ms: 0.0,
                p99_ms: 0.0,
                p999_ms: 0.0,
                max_ms: 0.0,
            };
        }
        let ms = |micros: u64| micros as f64 / 1000.0;
        Self {
            count: histogram.len(),
            mean_ms: histogram.mean() / 1000.0,
            p50_ms: ms(histogram.value_at_quantile(0.50)),
            p90_ms: ms(histogram.value_at_quantile(0.90)),
            p99_ms: ms(histogram.value_at_quantile(0.99)),
            p999_ms: ms(histogram.value_at_quantile(0.999)),
            max_ms: ms(histogram.max()),
        }
    }
}

/// The options the run used.
#[derive(Debug, Clone, Serialize)]
pub struct RunConfig {
    /// Commands driven for, s.
    pub duration_s: f64,
    /// Commands per second asked for.
    pub rate: f64,
    /// Wards.
    pub wards: u32,
    /// Subscriptions asked for.
    pub subscriptions: u32,
    /// The mix.
    pub mix: String,
    /// Most commands in flight.
    pub max_in_flight: usize,
    /// Push timeout, s.
    pub push_timeout_s: f64,
}

/// What setup created through the API.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SetupSummary {
    /// How long it took, s.
    pub seconds: f64,
    /// Mutations and queries it sent.
    pub requests: u64,
    /// Sites.
    pub sites: usize,
    /// Wards.
    pub wards: usize,
    /// Beds.
    pub beds: usize,
    /// Beds with a patient in them.
    pub occupied_beds: usize,
    /// Teams.
    pub teams: usize,
    /// Assessments being completed together during the run.
    pub assessments: usize,
    /// Their sections (one editor at a time each).
    pub assessment_sections: usize,
    /// Virtual wards.
    pub virtual_wards: usize,
    /// Patients on them.
    pub virtual_ward_patients: usize,
    /// Care providers.
    pub providers: usize,
    /// Care requests posted (each from a submitted assessment).
    pub care_requests: usize,
}

/// The subscriptions held open.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubscriptionSummary {
    /// WebSockets (one per device).
    pub sockets: usize,
    /// Subscriptions.
    pub total: usize,
    /// Subscriptions by kind.
    pub by_kind: Vec<KindCount>,
    /// From the first socket opening to every subscription delivering, s.
    pub ready_seconds: f64,
}

/// Subscriptions of one kind.
#[derive(Debug, Clone, Serialize)]
pub struct KindCount {
    /// The kind (`bedBoard`, …).
    pub kind: String,
    /// How many.
    pub count: usize,
}

/// The run as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    /// Commands driven for, s (measured).
    pub seconds: f64,
    /// Ticks of the schedule.
    pub scheduled: u64,
    /// Commands sent.
    pub sent: u64,
    /// Answered with data.
    pub ok: u64,
    /// Expected conflicts (stale section saves).
    pub conflicts: u64,
    /// Refused or failed commands.
    pub failed: u64,
    /// Ticks dropped (every command slot in flight, or nothing idle to act on).
    pub dropped: u64,
    /// Commands sent per second.
    pub achieved_rate: f64,
    /// How late commands were sent after their tick.
    pub schedule_lag: Latency,
    /// Errors of every kind: failed commands, missed pushes, subscription and socket errors.
    pub errors: u64,
}

/// One operation.
#[derive(Debug, Clone, Serialize)]
pub struct OperationReport {
    /// The mutation.
    pub name: String,
    /// Its kind of work.
    pub category: String,
    /// Sent.
    pub sent: u64,
    /// Answered with data.
    pub ok: u64,
    /// Expected conflicts.
    pub conflicts: u64,
    /// Refused or failed.
    pub failed: u64,
    /// Sent per second.
    pub per_second: f64,
    /// Round trip from the tick it was meant to start at.
    pub latency: Latency,
}

/// One kind of push.
#[derive(Debug, Clone, Serialize)]
pub struct PushReport {
    /// The subscription (`bedBoard`, …).
    pub kind: String,
    /// Data messages received.
    pub received: u64,
    /// Received per second.
    pub per_second: f64,
    /// Pushes matched to the command that caused them (one per command and subscriber).
    pub matched: u64,
    /// Awaited pushes that never came within the push timeout.
    pub missed: u64,
    /// From the command's send to the push arriving at another client.
    pub latency: Latency,
}

/// Ticks dropped of one kind of work.
#[derive(Debug, Clone, Serialize)]
pub struct DroppedReport {
    /// The kind of work.
    pub category: String,
    /// Every command slot was in flight.
    pub in_flight_full: u64,
    /// Nothing of the kind was idle to act on.
    pub no_idle_target: u64,
}

/// Errors of one code at one place.
#[derive(Debug, Clone, Serialize)]
pub struct ErrorReport {
    /// Where: an operation, a subscription kind, `websocket`.
    pub origin: String,
    /// The GraphQL `extensions.code`, or `TRANSPORT`, `TIMEOUT`, `HTTP_<status>`, `PUSH_MISSED`,
    /// `WS_CLOSED`.
    pub code: String,
    /// How often.
    pub count: u64,
    /// The first message.
    pub sample: String,
}

/// What a load test run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The gateway loaded.
    pub target: String,
    /// The run's prefix (in every id it created).
    pub prefix: String,
    /// When the commands started (RFC 3339).
    pub started_at: String,
    /// The options.
    pub config: RunConfig,
    /// What setup created.
    pub setup: SetupSummary,
    /// The subscriptions.
    pub subscriptions: SubscriptionSummary,
    /// The run as a whole.
    pub run: RunSummary,
    /// Per operation.
    pub operations: Vec<OperationReport>,
    /// Per push kind.
    pub pushes: Vec<PushReport>,
    /// Dropped ticks per kind of work.
    pub dropped: Vec<DroppedReport>,
    /// Errors by where and code.
    pub errors: Vec<ErrorReport>,
}

/// What the report is made of besides the measurements.
pub(crate) struct Context {
    pub target: String,
    pub prefix: String,
    pub started_at: String,
    pub config: RunConfig,
    pub setup: SetupSummary,
    pub subscriptions: SubscriptionSummary,
    pub seconds: f64,
}

impl Report {
    /// Builds the report from what was measured.
    pub(crate) fn build(context: Context, stats: &Stats) -> Self {
        let seconds = context.seconds.max(1e-9);
        let lock_latency = |h: &std::sync::Mutex<Histogram<u64>>| {
            Latency::of(&h.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
        };
        let operations: Vec<OperationReport> = Op::ALL
            .iter()
            .map(|op| {
                let s = stats.op(*op);
                let sent = s.sent.load(Ordering::Relaxed);
                OperationReport {
                    name: op.name().to_owned(),
                    category: op.category().name().to_owned(),
                    sent,
                    ok: s.ok.load(Ordering::Relaxed),
                    conflicts: s.conflict.load(Ordering::Relaxed),
                    failed: s.failed.load(Ordering::Relaxed),
                    per_second: sent as f64 / seconds,
                    latency: lock_latency(&s.latency),
                }
            })
            .collect();
        let pushes: Vec<PushReport> = PushKind::ALL
            .iter()
            .map(|kind| {
                let p = stats.push(*kind);
                let received = p.received.load(Ordering::Relaxed);
                PushReport {
                    kind: kind.name().to_owned(),
                    received,
                    per_second: received as f64 / seconds,
                    matched: p.matched.load(Ordering::Relaxed),
                    missed: p.missed.load(Ordering::Relaxed),
                    latency: lock_latency(&p.latency),
                }
            })
            .collect();
        let dropped: Vec<DroppedReport> = Category::ALL
            .iter()
            .map(|c| {
                let (full, idle) = stats.dropped(*c);
                DroppedReport { category: c.name().to_owned(), in_flight_full: full, no_idle_target: idle }
            })
            .collect();
        let errors: Vec<ErrorReport> = stats
            .errors()
            .into_iter()
            .map(|((origin, code), entry)| ErrorReport {
                origin,
                code,
                count: entry.count,
                sample: entry.sample,
            })
            .collect();
        let (sent, ok, conflicts, failed) = stats.totals();
        let run = RunSummary {
            seconds: context.seconds,
            scheduled: stats.scheduled.load(Ordering::Relaxed),
            sent,
            ok,
            conflicts,
            failed,
            dropped: stats.dropped_total(),
            achieved_rate: sent as f64 / seconds,
            schedule_lag: lock_latency(&stats.lag),
            errors: errors.iter().map(|e| e.count).sum(),
        };
        Self {
            target: context.target,
            prefix: context.prefix,
            started_at: context.started_at,
            config: context.config,
            setup: context.setup,
            subscriptions: context.subscriptions,
            run,
            operations,
            pushes,
            dropped,
            errors,
        }
    }

    /// Every error: failed commands, missed pushes, subscription and socket errors.
    pub fn total_errors(&self) -> u64 {
        self.run.errors
    }

    /// The summary table, as printed at the end of a run.
    pub fn table(&self) -> String {
        let mut out = String::new();
        let r = &self.run;
        let _ = writeln!(
            out,
            "careflow load test {} against {}: {:.1} s at {:.0}/s asked, {:.1}/s sent; {} subscriptions on {} sockets",
            self.prefix,
            self.target,
            r.seconds,
            self.config.rate,
            r.achieved_rate,
            self.subscriptions.total,
            self.subscriptions.sockets
        );
        let _ = writeln!(
            out,
            "setup {:.1} s ({} requests): {} wards, {} beds ({} occupied), {} teams, {} assessments, {} virtual ward patients, {} providers, {} care requests",
            self.setup.seconds,
            self.setup.requests,
            self.setup.wards,
            self.setup.beds,
            self.setup.occupied_beds,
            self.setup.teams,
            self.setup.assessments,
            self.setup.virtual_ward_patients,
            self.setup.providers,
            self.setup.care_requests
        );
        let _ = writeln!(
            out,
            "commands: {} sent, {} ok, {} conflicts, {} failed, {} ticks dropped; schedule lag p99 {:.2} ms, max {:.2} ms",
            r.sent, r.ok, r.conflicts, r.failed, r.dropped, r.schedule_lag.p99_ms, r.schedule_lag.max_ms
        );
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<26} {:>8} {:>8} {:>6} {:>6} {:>8} {:>8} {:>8} {:>8} {:>9}",
            "operation", "sent", "ok", "confl", "fail", "/s", "p50 ms", "p90 ms", "p99 ms", "max ms"
        );
        for op in self.operations.iter().filter(|o| o.sent > 0) {
            let l = &op.latency;
            let _ = writeln!(
                out,
                "{:<26} {:>8} {:>8} {:>6} {:>6} {:>8.1} {:>8.2} {:>8.2} {:>8.2} {:>9.2}",
                op.name,
                op.sent,
                op.ok,
                op.conflicts,
                op.failed,
                op.per_second,
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.max_ms
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "{:<26} {:>8} {:>8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>9}",
            "push (to another client)",
            "received",
            "matched",
            "missed",
            "/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms"
        );
        for push in &self.pushes {
            let l = &push.latency;
            let _ = writeln!(
                out,
                "{:<26} {:>8} {:>8} {:>6} {:>8.1} {:>8.2} {:>8.2} {:>8.2} {:>9.2}",
                push.kind,
                push.received,
                push.matched,
                push.missed,
                push.per_second,
                l.p50_ms,
                l.p90_ms,
                l.p99_ms,
                l.max_ms
            );
        }
        let dropped: Vec<&DroppedReport> =
            self.dropped.iter().filter(|d| d.in_flight_full + d.no_idle_target > 0).collect();
        if !dropped.is_empty() {
            let _ = writeln!(out);
            for d in dropped {
                let _ = writeln!(
                    out,
                    "dropped {:<12} {} (in flight full), {} (nothing idle)",
                    d.category, d.in_flight_full, d.no_idle_target
                );
            }
        }
        let _ = writeln!(out);
        if self.errors.is_empty() {
            let _ = writeln!(out, "errors: none");
        } else {
            let _ = writeln!(out, "errors: {}", self.total_errors());
            for e in &self.errors {
                let _ = writeln!(out, "  {:<24} {:<20} {:>8}  {}", e.origin, e.code, e.count, e.sample);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::stats::{micros_histogram, record};

    #[test]
    fn latencies_summarise_in_milliseconds() {
        let mut h = micros_histogram().unwrap();
        for micros in 1..=1000u64 {
            h.record(micros * 10).unwrap();
        }
        let l = Latency::of(&h);
        assert_eq!(l.count, 1000);
        assert!((l.p50_ms - 5.0).abs() < 0.01, "{l:?}");
        assert!((l.p90_ms - 9.0).abs() < 0.01, "{l:?}");
        assert!((l.p99_ms - 9.9).abs() < 0.01, "{l:?}");
        assert!((l.max_ms - 10.0).abs() < 0.01, "{l:?}");
        assert!((l.mean_ms - 5.005).abs() < 0.01, "{l:?}");
        assert_eq!(Latency::of(&micros_histogram().unwrap()).count, 0);
    }

    fn context() -> Context {
        Context {
            target: "http://gw".into(),
            prefix: "T1".into(),
            started_at: "2030-01-01T00:00:00Z".into(),
            config: RunConfig {
                duration_s: 2.0,
                rate: 10.0,
                wards: 1,
                subscriptions: 6,
                mix: "beds=1".into(),
                max_in_flight: 8,
                push_timeout_s: 5.0,
            },
            setup: SetupSummary::default(),
            subscriptions: SubscriptionSummary::default(),
            seconds: 2.0,
        }
    }

    #[test]
    fn the_report_sums_what_was_measured_and_counts_missed_pushes_as_errors() {
        let stats = Stats::new().unwrap();
        let block = stats.op(Op::BlockBed);
        block.sent.fetch_add(10, Ordering::Relaxed);
        block.ok.fetch_add(9, Ordering::Relaxed);
        block.failed.fetch_add(1, Ordering::Relaxed);
        record(&block.latency, Duration::from_millis(4));
        stats.error("blockBed", "CONFLICT", "bed is OCCUPIED");
        stats.push(PushKind::BedBoard).missed.fetch_add(2, Ordering::Relaxed);
        stats.errors_n("bedBoard", "PUSH_MISSED", "no push within 5 s", 2);
        stats.drop_full(Category::Beds);
        let report = Report::build(context(), &stats);
        assert_eq!((report.run.sent, report.run.ok, report.run.failed), (10, 9, 1));
        assert_eq!(report.total_errors(), 3);
        assert_eq!(report.run.dropped, 1);
        assert!((report.run.achieved_rate - 5.0).abs() < 1e-9);
        let op = report.operations.iter().find(|o| o.name == "blockBed").unwrap();
        assert_eq!(op.latency.count, 1);
        let table = report.table();
        assert!(table.contains("blockBed") && !table.contains("unblockBed"), "{table}");
        assert!(table.contains("PUSH_MISSED") && table.contains("bed is OCCUPIED"), "{table}");
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        assert_eq!(json["pushes"][0]["kind"], "bedBoard");
        assert_eq!(json["pushes"][0]["missed"], 2);
        assert_eq!(json["errors"].as_array().unwrap().len(), 2);
    }
}
