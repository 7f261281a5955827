//! Throughput benchmarks for any [`EventStore`], for `careflow bench` and the figures of
//! DESIGN.md §9. They measure; they assert nothing.
//!
//! - [`append_throughput`]: `writers` concurrent tasks append one event each time (about 200
//!   bytes of JSON data, about 170 bytes of JSON metadata) to a random stream among the
//!   writer's share of `streams`, with the exact expected version (tracked by the writer,
//!   corrected from the store's answer on a conflict).
//! - [`replay_throughput`]: reads the whole of `$all` in batches and decodes every payload with
//!   `serde_json` into a typed struct, with a few reads in flight while it decodes, as a
//!   projection rebuild can.
//! - [`fill`]: writes events quickly (large multi-stream appends, untimed) for the replay.
//!
//! Ids are UUID v7 (time-ordered, as the services write them) built from a cheap local random
//! source, so the benchmark spends its time in the store rather than in the OS's RNG.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    Actor, CurrentVersion, EventStore, ExpectedVersion, Filter, Metadata, NewEvent, Position, StoreError,
    StreamAppend, StreamName,
};

/// What a benchmark measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BenchReport {
    /// Operations completed: appends for [`append_throughput`], events for
    /// [`replay_throughput`].
    pub operations: u64,
    /// Wall-clock time they took.
    pub elapsed: Duration,
    /// `operations` per second.
    pub per_sec: f64,
    /// Appends rejected for a wrong expected version and retried (0 on a fresh store).
    pub conflicts: u64,
}

impl BenchReport {
    fn new(operations: u64, elapsed: Duration, conflicts: u64) -> Self {
        let per_sec = operations as f64 / elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        Self { operations, elapsed, per_sec, conflicts }
    }
}

/// The payload of every benchmark event: about 200 bytes of JSON, shaped like a bed event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchPayload {
    /// A bed id.
    pub bed_id: String,
    /// A stay id.
    pub stay_id: Uuid,
    /// A synthetic NHS number (999 range).
    pub nhs_number: String,
    /// A bed status.
    pub status: String,
    /// Free text.
    pub note: String,
    /// When it happened.
    pub at: DateTime<Utc>,
}

/// A small, fast, non-cryptographic random source (xorshift64*).
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// A UUID v4.
    fn uuid_v4(&mut self) -> Uuid {
        let bytes = (u128::from(self.next()) << 64 | u128::from(self.next())).to_le_bytes();
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }

    /// A UUID v7 for now.
    fn uuid_v7(&mut self, now: DateTime<Utc>) -> Uuid {
        let millis = u64::try_from(now.timestamp_millis()).unwrap_or(0);
        let random = self.next().to_le_bytes();
        let more = self.next().to_le_bytes();
        let tail = [
            random[0], random[1], random[2], random[3], random[4], random[5], random[6], random[7], more[0],
            more[1],
        ];
        uuid::Builder::from_unix_timestamp_millis(millis, &tail).into_uuid()
    }
}

/// The name of benchmark stream `index`.
pub fn bench_stream(index: usize) -> Result<StreamName, StoreError> {
    StreamName::new(format!("bench-{index}"))
}

/// A benchmark event for stream `index`.
fn bench_event(rng: &mut Rng, index: usize) -> Result<NewEvent, StoreError> {
    let now = Utc::now();
    let payload = BenchPayload {
        bed_id: format!("RXA01-AMU-B{index:05}"),
        stay_id: rng.uuid_v4(),
        nhs_number: "9990000018".into(),
        status: "AWAITING_CLEANING".into(),
        note: "Discharged home on pathway 1; bed vacated".into(),
        at: now,
    };
    let metadata = Metadata {
        correlation_id: rng.uuid_v4(),
        causation_id: None,
        command_id: Some(rng.uuid_v4()),
        command_digest: None,
        actor: Some(Actor {
            user_id: "bench.nurse".into(),
            role: "ward_nurse".into(),
            organisation: "RXA".into(),
        }),
        occurred_at: now,
        traceparent: None,
    };
    NewEvent::json(rng.uuid_v7(now), "BedVacated", 1, &payload, metadata)
}

/// `writers` tasks make `appends` appends in all (one event each) to `streams` streams, each
/// writer to its own share of them, with exact expected versions. Returns appends per second.
pub async fn append_throughput(
    store: Arc<dyn EventStore>,
    writers: usize,
    appends: usize,
    streams: usize,
) -> Result<BenchReport, StoreError> {
    let writers = writers.max(1);
    let streams = streams.max(writers);
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let store = Arc::clone(&store);
            let count = appends / writers + usize::from(writer < appends % writers);
            tokio::spawn(append_task(store, writer, writers, streams, count))
        })
        .collect();
    let mut conflicts = 0;
    for task in tasks {
        conflicts +=
            task.await.map_err(|e| StoreError::Unavailable(format!("a bench writer failed: {e}")))??;
    }
    Ok(BenchReport::new(appends as u64, started.elapsed(), conflicts))
}

/// One writer: `count` appends to streams `writer, writer + writers, …` below `streams`.
async fn append_task(
    store: Arc<dyn EventStore>,
    writer: usize,
    writers: usize,
    streams: usize,
    count: usize,
) -> Result<u64, StoreError> {
    let mut rng = Rng::new(writer as u64 + 1);
    let owned = (streams - writer).div_ceil(writers);
    let mut versions: HashMap<usize, CurrentVersion> = HashMap::new();
    let mut conflicts = 0;
    for _ in 0..count {
        let index = writer + rng.below(owned) * writers;
        let stream = bench_stream(index)?;
        let event = bench_event(&mut rng, index)?;
        loop {
            let expected = versions.get(&index).copied().unwrap_or(CurrentVersion::NoStream).expected();
            let request =
                vec![StreamAppend { stream: stream.clone(), expected, events: vec![event.clone()] }];
            match store.append(request).await {
                Ok(result) => {
                    if let Some(written) = result.streams.first() {
                        versions.insert(index, written.version);
                    }
                    break;
                }
                Err(StoreError::WrongExpectedVersion { actual, .. }) => {
                    conflicts += 1;
                    versions.insert(index, actual);
                }
                Err(other) => return Err(other),
            }
        }
    }
    Ok(conflicts)
}

/// Appends `events` benchmark events (untimed set-up for [`replay_throughput`]) across
/// `streams` streams, in appends of up to 1,000 events with `Any`.
pub async fn fill(store: &dyn EventStore, events: usize, streams: usize) -> Result<(), StoreError> {
    let streams = streams.max(1);
    let per_append = streams.min(1000);
    let mut rng = Rng::new(0x5EED);
    let mut written = 0;
    while written < events {
        let n = per_append.min(events - written);
        let request = (written..written + n)
            .map(|i| {
                let index = i % streams;
                Ok(StreamAppend {
                    stream: bench_stream(index)?,
                    expected: ExpectedVersion::Any,
                    events: vec![bench_event(&mut rng, index)?],
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        store.append(request).await?;
        written += n;
    }
    Ok(())
}

/// Reads all of `$all` from position 1 up to the head (as it is when the replay starts) in
/// batches of `batch` positions, with `depth` reads in flight at once (as a projection rebuild
/// can: positions are dense), decoding each payload into [`BenchPayload`]. Returns events per
/// second.
pub async fn replay_throughput(
    store: Arc<dyn EventStore>,
    batch: usize,
    depth: usize,
) -> Result<BenchReport, StoreError> {
    let batch = batch.max(1);
    let step = u64::try_from(batch).unwrap_or(u64::MAX);
    let head = *store.head().borrow();
    let read = |from: Position| {
        let store = Arc::clone(&store);
        tokio::spawn(async move { store.read_all(from, batch, &Filter::all()).await })
    };
    let joined = |e: tokio::task::JoinError| StoreError::Unavailable(format!("a bench read failed: {e}"));
    let started = Instant::now();
    let mut count = 0u64;
    let mut next = 1;
    let mut in_flight = VecDeque::new();
    loop {
        while in_flight.len() < depth.max(1) && next <= head {
            in_flight.push_back((next, read(next)));
            next = next.saturating_add(step);
        }
        let Some((from, pending)) = in_flight.pop_front() else { break };
        let mut slice = pending.await.map_err(joined)??;
        let end = from.saturating_add(step).min(head + 1);
        loop {
            for event in &slice.events {
                let payload: BenchPayload = event.decode()?;
                std::hint::black_box(payload);
                count += 1;
            }
            // A backend may examine fewer positions than asked: read the rest of this range.
            if slice.next >= end || slice.next <= from {
                break;
            }
            let max = usize::try_from(end - slice.next).unwrap_or(usize::MAX);
            slice = store.read_all(slice.next, max, &Filter::all()).await?;
        }
    }
    Ok(BenchReport::new(count, started.elapsed(), 0))
}
