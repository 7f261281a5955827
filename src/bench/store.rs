//! Event store figures: durable appends/s and `$all` replay (the workloads of
//! `careflow_eventstore::bench`), and append → live subscriber latency.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use careflow_eventstore::bench;
use careflow_eventstore::{
    Actor, ExpectedVersion, Filter, Metadata, NewEvent, StoreError, StreamAppend, StreamName, Subscription,
    SubscriptionMessage,
};
use chrono::Utc;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::backend::Stores;
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
        command_digest: None,
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

/// `writers` tasks make `appends` appends in all (see [`bench::append_throughput`]) on a fresh
/// store.
pub async fn append(
    stores: &Stores,
    writers: usize,
    streams: usize,
    appends: usize,
) -> anyhow::Result<Throughput> {
    let store = stores.open(&format!("append-{writers}")).await?;
    let report = bench::append_throughput(store, writers, appends, streams).await?;
    Ok(Throughput { count: report.operations, elapsed: report.elapsed })
}

/// Writes `events` (untimed), then replays `$all` decoding every payload (see
/// [`bench::replay_throughput`]).
pub async fn replay(stores: &Stores, events: usize) -> anyhow::Result<Throughput> {
    let store = stores.open("replay").await?;
    bench::fill(store.as_ref(), events, 10_000).await?;
    let report = bench::replay_throughput(store, 1024, 2).await?;
    Ok(Throughput { count: report.operations, elapsed: report.elapsed })
}

/// Appends `samples` events at `rate` per second while a live subscriber measures how long each
/// takes from the start of its append to its delivery.
pub async fn subscribe_latency(
    stores: &Stores,
    rate: u32,
    samples: usize,
) -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    let store = stores.open("subscribe").await?;
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
