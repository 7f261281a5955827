//! What the run measures while it runs, shared by every task: per operation, counts and a
//! latency histogram; per push kind, pushes received, matched and missed with a latency
//! histogram; errors by where and code (a sample message each); ticks scheduled and dropped.
//! Fixed size: nothing here grows with the run's length but the (few) distinct error codes.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;

use crate::args::Category;

/// The commands the load test sends, one per mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `setExpectedDischargeDate` on an occupied bed.
    SetExpectedDischargeDate,
    /// `blockBed` on an available bed.
    BlockBed,
    /// `unblockBed`.
    UnblockBed,
    /// `markBedCleaned` (after an infection-control block).
    MarkBedCleaned,
    /// `reserveBed` on an available bed.
    ReserveBed,
    /// `releaseBedReservation`.
    ReleaseBedReservation,
    /// `createTask` in a ward team's inbox.
    CreateTask,
    /// `claimTask`.
    ClaimTask,
    /// `completeTask`.
    CompleteTask,
    /// `saveAssessmentSection`.
    SaveAssessmentSection,
    /// `recordObservations` (one reading).
    RecordObservations,
    /// `makeOffer`.
    MakeOffer,
    /// `withdrawOffer`.
    WithdrawOffer,
}

impl Op {
    /// Every operation, in report order.
    pub const ALL: [Op; 13] = [
        Op::SetExpectedDischargeDate,
        Op::BlockBed,
        Op::UnblockBed,
        Op::MarkBedCleaned,
        Op::ReserveBed,
        Op::ReleaseBedReservation,
        Op::CreateTask,
        Op::ClaimTask,
        Op::CompleteTask,
        Op::SaveAssessmentSection,
        Op::RecordObservations,
        Op::MakeOffer,
        Op::WithdrawOffer,
    ];

    /// The mutation's name.
    pub fn name(self) -> &'static str {
        match self {
            Op::SetExpectedDischargeDate => "setExpectedDischargeDate",
            Op::BlockBed => "blockBed",
            Op::UnblockBed => "unblockBed",
            Op::MarkBedCleaned => "markBedCleaned",
            Op::ReserveBed => "reserveBed",
            Op::ReleaseBedReservation => "releaseBedReservation",
            Op::CreateTask => "createTask",
            Op::ClaimTask => "claimTask",
            Op::CompleteTask => "completeTask",
            Op::SaveAssessmentSection => "saveAssessmentSection",
            Op::RecordObservations => "recordObservations",
            Op::MakeOffer => "makeOffer",
            Op::WithdrawOffer => "withdrawOffer",
        }
    }

    /// The kind of work it is.
    pub fn category(self) -> Category {
        match self {
            Op::SetExpectedDischargeDate
            | Op::BlockBed
            | Op::UnblockBed
            | Op::MarkBedCleaned
            | Op::ReserveBed
            | Op::ReleaseBedReservation => Category::Beds,
            Op::CreateTask | Op::ClaimTask | Op::CompleteTask => Category::Tasks,
            Op::SaveAssessmentSection => Category::Assessments,
            Op::RecordObservations => Category::Readings,
            Op::MakeOffer | Op::WithdrawOffer => Category::Offers,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The subscriptions the load test holds open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PushKind {
    /// `bedBoard(wardId)` on a ward tablet.
    BedBoard,
    /// `teamInbox(teamId)` of a ward team.
    TeamInbox,
    /// `assessment(id)` on an assessor's device.
    Assessment,
    /// `virtualWardCensus(wardId)` on a virtual ward clinician's screen.
    VirtualWardCensus,
    /// `careMarket` on a broker's screen.
    CareMarket,
    /// `providerRequests` on a care provider's screen.
    ProviderRequests,
}

impl PushKind {
    /// Every kind, in report order.
    pub const ALL: [PushKind; 6] = [
        PushKind::BedBoard,
        PushKind::TeamInbox,
        PushKind::Assessment,
        PushKind::VirtualWardCensus,
        PushKind::CareMarket,
        PushKind::ProviderRequests,
    ];

    /// The subscription's field name.
    pub fn name(self) -> &'static str {
        match self {
            PushKind::BedBoard => "bedBoard",
            PushKind::TeamInbox => "teamInbox",
            PushKind::Assessment => "assessment",
            PushKind::VirtualWardCensus => "virtualWardCensus",
            PushKind::CareMarket => "careMarket",
            PushKind::ProviderRequests => "providerRequests",
        }
    }

    /// Its position in [`PushKind::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// The largest latency recorded, in µs (an hour): anything longer is recorded as this.
const MAX_MICROS: u64 = 3_600_000_000;

/// An empty µs histogram (1 µs to an hour, 3 significant figures).
pub fn micros_histogram() -> Result<Histogram<u64>, hdrhistogram::CreationError> {
    Histogram::new_with_bounds(1, MAX_MICROS, 3)
}

/// Records `elapsed` into `histogram` (µs, saturating at an hour).
pub fn record(histogram: &Mutex<Histogram<u64>>, elapsed: Duration) {
    let micros = u64::try_from(elapsed.as_micros()).unwrap_or(MAX_MICROS).clamp(1, MAX_MICROS);
    if let Ok(mut h) = histogram.lock() {
        h.saturating_record(micros);
    }
}

/// One operation's figures.
#[derive(Debug)]
pub struct OpStats {
    /// Sent.
    pub sent: AtomicU64,
    /// Answered with data.
    pub ok: AtomicU64,
    /// Refused as CONFLICT where that is an expected outcome (a stale section save).
    pub conflict: AtomicU64,
    /// Refused or failed.
    pub failed: AtomicU64,
    /// Round trip from the intended start, µs.
    pub latency: Mutex<Histogram<u64>>,
}

/// One push kind's figures.
#[derive(Debug)]
pub struct PushStats {
    /// Pushes received (data messages).
    pub received: AtomicU64,
    /// Pushes matched to a command (one per command and subscriber).
    pub matched: AtomicU64,
    /// Expected pushes that did not arrive within the push timeout.
    pub missed: AtomicU64,
    /// From the command's send to the push's arrival, µs.
    pub latency: Mutex<Histogram<u64>>,
}

/// An error: how often, and the first message.
#[derive(Debug, Clone)]
pub struct ErrorEntry {
    /// How often.
    pub count: u64,
    /// The first message seen.
    pub sample: String,
}

/// Everything measured.
#[derive(Debug)]
pub struct Stats {
    ops: Vec<OpStats>,
    pushes: Vec<PushStats>,
    errors: Mutex<BTreeMap<(String, String), ErrorEntry>>,
    /// How late each command was sent after its intended start, µs.
    pub lag: Mutex<Histogram<u64>>,
    /// Ticks of the schedule.
    pub scheduled: AtomicU64,
    dropped_full: [AtomicU64; 5],
    dropped_idle: [AtomicU64; 5],
    /// Commands in flight now.
    pub in_flight: AtomicU64,
}

impl Stats {
    /// Nothing measured yet.
    pub fn new() -> Result<Self, hdrhistogram::CreationError> {
        Ok(Self {
            ops: Op::ALL
                .iter()
                .map(|_| {
                    Ok(OpStats {
                        sent: AtomicU64::new(0),
                        ok: AtomicU64::new(0),
                        conflict: AtomicU64::new(0),
                        failed: AtomicU64::new(0),
                        latency: Mutex::new(micros_histogram()?),
                    })
                })
                .collect::<Result<_, hdrhistogram::CreationError>>()?,
            pushes: PushKind::ALL
                .iter()
                .map(|_| {
                    Ok(PushStats {
                        received: AtomicU64::new(0),
                        matched: AtomicU64::new(0),
                        missed: AtomicU64::new(0),
                        latency: Mutex::new(micros_histogram()?),
                    })
                })
                .collect::<Result<_, hdrhistogram::CreationError>>()?,
            errors: Mutex::new(BTreeMap::new()),
            lag: Mutex::new(micros_histogram()?),
            scheduled: AtomicU64::new(0),
            dropped_full: Default::default(),
            dropped_idle: Default::default(),
            in_flight: AtomicU64::new(0),
        })
    }

    /// The figures of `op`.
    pub fn op(&self, op: Op) -> &OpStats {
        &self.ops[op.index()]
    }

    /// The figures of `kind`.
    pub fn push(&self, kind: PushKind) -> &PushStats {
        &self.pushes[kind.index()]
    }

    /// Counts an error of `code` at `origin` (an operation, a push kind, `websocket`).
    pub fn error(&self, origin: &str, code: &str, message: &str) {
        if let Ok(mut errors) = self.errors.lock() {
            let entry = errors
                .entry((origin.to_owned(), code.to_owned()))
                .or_insert_with(|| ErrorEntry { count: 0, sample: message.chars().take(300).collect() });
            entry.count += 1;
        }
    }

    /// Counts `n` errors of `code` at `origin`.
    pub fn errors_n(&self, origin: &str, code: &str, message: &str, n: u64) {
        if n == 0 {
            return;
        }
        if let Ok(mut errors) = self.errors.lock() {
            let entry = errors
                .entry((origin.to_owned(), code.to_owned()))
                .or_insert_with(|| ErrorEntry { count: 0, sample: message.to_owned() });
            entry.count += n;
        }
    }

    /// Every error so far, by (origin, code).
    pub fn errors(&self) -> BTreeMap<(String, String), ErrorEntry> {
        self.errors.lock().map(|e| e.clone()).unwrap_or_default()
    }

    /// The number of errors so far.
    pub fn error_count(&self) -> u64 {
        self.errors.lock().map(|e| e.values().map(|v| v.count).sum()).unwrap_or(0)
    }

    /// Counts a tick of `category` dropped because every command slot was in flight.
    pub fn drop_full(&self, category: Category) {
        self.dropped_full[category.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a tick of `category` dropped because no target was idle.
    pub fn drop_idle(&self, category: Category) {
        self.dropped_idle[category.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// Ticks of `category` dropped: (in flight full, no idle target).
    pub fn dropped(&self, category: Category) -> (u64, u64) {
        let i = category.index();
        (self.dropped_full[i].load(Ordering::Relaxed), self.dropped_idle[i].load(Ordering::Relaxed))
    }

    /// Sums over every operation: (sent, ok, conflict, failed).
    pub fn totals(&self) -> (u64, u64, u64, u64) {
        self.ops.iter().fold((0, 0, 0, 0), |(s, o, c, f), op| {
            (
                s + op.sent.load(Ordering::Relaxed),
                o + op.ok.load(Ordering::Relaxed),
                c + op.conflict.load(Ordering::Relaxed),
                f + op.failed.load(Ordering::Relaxed),
            )
        })
    }

    /// Sums over every push kind: (received, matched, missed).
    pub fn push_totals(&self) -> (u64, u64, u64) {
        self.pushes.iter().fold((0, 0, 0), |(r, m, x), p| {
            (
                r + p.received.load(Ordering::Relaxed),
                m + p.matched.load(Ordering::Relaxed),
                x + p.missed.load(Ordering::Relaxed),
            )
        })
    }

    /// Ticks dropped, every category.
    pub fn dropped_total(&self) -> u64 {
        Category::ALL.iter().map(|c| self.dropped(*c)).map(|(a, b)| a + b).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_op_has_its_own_figures() {
        let stats = Stats::new().unwrap();
        stats.op(Op::BlockBed).sent.fetch_add(2, Ordering::Relaxed);
        stats.op(Op::WithdrawOffer).failed.fetch_add(1, Ordering::Relaxed);
        assert_eq!(stats.totals(), (2, 0, 0, 1));
        assert_eq!(Op::ALL.iter().filter(|o| o.category() == Category::Beds).count(), 6);
        for (i, op) in Op::ALL.iter().enumerate() {
            assert_eq!(op.index(), i);
        }
    }

    #[test]
    fn errors_are_counted_by_origin_and_code_keeping_the_first_message() {
        let stats = Stats::new().unwrap();
        stats.error("blockBed", "CONFLICT", "first");
        stats.error("blockBed", "CONFLICT", "second");
        stats.errors_n("bedBoard", "PUSH_MISSED", "late", 3);
        stats.errors_n("bedBoard", "PUSH_MISSED", "late", 0);
        let errors = stats.errors();
        assert_eq!(errors[&("blockBed".to_owned(), "CONFLICT".to_owned())].count, 2);
        assert_eq!(errors[&("blockBed".to_owned(), "CONFLICT".to_owned())].sample, "first");
        assert_eq!(stats.error_count(), 5);
    }

    #[test]
    fn latencies_saturate_rather_than_fail() {
        let h = Mutex::new(micros_histogram().unwrap());
        record(&h, Duration::from_nanos(10));
        record(&h, Duration::from_secs(7200));
        let h = h.lock().unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(h.min(), 1);
        assert!(h.max() >= MAX_MICROS - MAX_MICROS / 1000);
    }
}
