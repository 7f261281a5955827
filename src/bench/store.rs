//! Event store figures: durable appends/s, `$all` replay, append → live subscriber latency.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use careflow_eventstore::sqlite::SqliteStore;
use careflow_eventstore::{
    Actor, CurrentVersion, EventStore, ExpectedVersion, Filter, Metadata, NewEvent, StoreError, StreamAppend,
    StreamName, Subscription, SubscriptionMessage,
};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Throughput, micros_histogram};

/// A payload of about 200 bytes of JSON, shaped like a bed event.
#[derive(Serialize, Deserialize)]
struct Payload {
    bed_id: String,
    stay_id: Uuid,
    nhs_number: String,
    status: String,
    note: String,
    at: chrono::DateTime<Utc>,
}

fn event(stream_index: usize) -> Result<NewEvent, StoreError> {
    let payload = Payload {
        bed_id: format!("RXA01-AMU-B{stream_index:05}"),
        stay_id: Uuid::new_v4(),
        nhs_number: "9990000018".into(),
        status: "AWAITING_CLEANING".into(),
        note: "Discharged home on pathway 1; bed vacated".into(),
        at: Utc::now(),
    };
    // About 150 bytes of metadata.
    let metadata = Metadata {
        correlation_id: Uuid::new_v4(),
        causation_id: None,
        command_id: Some(Uuid::new_v4()),
        actor: Some(Actor {
            user_id: "bench.nurse".into(),
            role: "ward_nurse".into(),
            organisation: "RXA".into(),
        }),
        occurred_at: Utc::now(),
        traceparent: None,
    };
    NewEvent::json(Uuid::now_v7(), "BedVacated", 1, &payload, metadata)
}

fn stream(index: usize) -> Result<StreamName, StoreError> {
    StreamName::new(format!("bench-{index}"))
}

/// `writers` tasks append for `duration`, each to its own share of `streams` streams, one event
/// per append with the exact expected version.
pub async fn append(
    dir: &Path,
    writers: usize,
    streams: usize,
    duration: Duration,
) -> anyhow::Result<Throughput> {
    let store: Arc<dyn EventStore> =
        Arc::new(SqliteStore::open(dir.join(format!("append-{writers}.sqlite")))?);
    let count = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let tasks: Vec<_> = (0..writers)
        .map(|writer| {
            let (store, count, stop) = (store.clone(), count.clone(), stop.clone());
            tokio::spawn(async move {
                let mine: Vec<usize> = (writer..streams.max(writers)).step_by(writers).collect();
                let mut versions: HashMap<usize, CurrentVersion> = HashMap::new();
                let mut next = 0;
                while !stop.load(Ordering::Relaxed) {
                    let index = mine[next % mine.len()];
                    next += 1;
                    let version = versions.get(&index).copied().unwrap_or(CurrentVersion::NoStream);
                    let request = vec![StreamAppend {
                        stream: stream(index)?,
                        expected: version.expected(),
                        events: vec![event(index)?],
                    }];
                    let result = store.append(request).await?;
                    versions.insert(index, result.streams[0].version);
                    count.fetch_add(1, Ordering::Relaxed);
                }
                anyhow::Ok(())
            })
        })
        .collect();
    tokio::time::sleep(duration).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await??;
    }
    Ok(Throughput { count: count.load(Ordering::Relaxed), elapsed: started.elapsed() })
}

/// Writes `events` (in batches, untimed), then reads `$all` from 1 decoding every payload.
pub async fn replay(dir: &Path, events: usize) -> anyhow::Result<Throughput> {
    let store: Arc<dyn EventStore> = Arc::new(SqliteStore::open(dir.join("replay.sqlite"))?);
    const BATCH: usize = 1000;
    let mut written = 0;
    while written < events {
        let n = BATCH.min(events - written);
        let request = (0..n)
            .map(|i| {
                let index = written + i;
                Ok(StreamAppend {
                    stream: stream(index % 10_000)?,
                    expected: ExpectedVersion::Any,
                    events: vec![event(index)?],
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        store.append(request).await?;
        written += n;
    }
    let started = Instant::now();
    let mut from = 1;
    let mut count = 0u64;
    loop {
        let slice = store.read_all(from, 4096, &Filter::all()).await?;
        if slice.events.is_empty() {
            break;
        }
        for event in &slice.events {
            let payload: Payload = event.decode()?;
            std::hint::black_box(payload);
            count += 1;
        }
        from = slice.next;
    }
    Ok(Throughput { count, elapsed: started.elapsed() })
}

/// Appends `samples` events at `rate` per second while a live subscriber measures how long each
/// takes from the start of its append to its delivery.
pub async fn subscribe_latency(
    dir: &Path,
    rate: u32,
    samples: usize,
) -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    let store: Arc<dyn EventStore> = Arc::new(SqliteStore::open(dir.join("subscribe.sqlite"))?);
    let sent: Arc<Mutex<HashMap<Uuid, Instant>>> = Arc::default();
    let mut subscription = Subscription::new(store.clone(), 1, Filter::all());
    let receiver = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut histogram = micros_histogram()?;
            while (histogram.len() as usize) < samples {
                if let SubscriptionMessage::Event(event) = subscription.next().await? {
                    let started = sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.remove(&event.id);
                    if let Some(started) = started {
                        histogram.record(started.elapsed().as_micros().max(1) as u64)?;
                    }
                }
            }
            anyhow::Ok(histogram)
        })
    };
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    for index in 0..samples {
        ticker.tick().await;
        let new = event(index)?;
        sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.insert(new.id, Instant::now());
        let request = vec![StreamAppend {
            stream: stream(index % 1000)?,
            expected: ExpectedVersion::Any,
            events: vec![new],
        }];
        store.append(request).await?;
    }
    tokio::time::timeout(Duration::from_secs(60), receiver).await??
}
