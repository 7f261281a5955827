//! GraphQL mutation → subscription push latency through the whole of careflow, in-process:
//! one client subscribes to a ward's bed board, another blocks and unblocks its beds at a steady
//! rate; each push is matched to the mutation that caused it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use careflow_auth::Role;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::backend::Stores;
use super::running::Running;
use super::{micros_histogram, ws};

const WARD: &str = "BENCH-W1";
const BEDS: usize = 50;

type Sent = Arc<Mutex<HashMap<String, VecDeque<Instant>>>>;

/// No push for this long after the last one: every push has arrived.
const QUIET: Duration = Duration::from_secs(3);

/// Measures `samples` mutation → push latencies at `rate` mutations/s: on SQLite with in-memory
/// read models, or on PostgreSQL with Redis read models (all roles in this process; the path
/// through the stores is the one separate processes take).
pub async fn latency(
    stores: &Stores,
    rate: u32,
    samples: usize,
) -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    let running = Running::start(stores, "push", &[]).await?;
    let (http, token) = (running.http, running.token(Role::Admin)?);
    // The listeners are bound by `build`, so the connection waits in the backlog until served.
    let mut setup = ws::connect(http, &token).await?;
    ws::bench_ward(&mut setup, WARD).await?;
    for bed in 0..BEDS {
        let add = format!(
            r#"mutation {{ addBed(input: {{bedId: "{WARD}-B{bed:02}", wardId: "{WARD}", label: "Bed {bed}"}}) {{ position }} }}"#
        );
        ws::execute(&mut setup, &format!("bed{bed}"), &add).await?;
    }

    let sent: Sent = Arc::default();
    let mut watcher = ws::connect(http, &token).await?;
    ws::start(
        &mut watcher,
        "watch",
        &format!(r#"subscription {{ bedBoard(wardId: "{WARD}") {{ id status }} }}"#),
    )
    .await?;
    let collector = tokio::spawn(collect(watcher, sent.clone(), samples));

    let (mut sink, replies) = setup.split();
    let failures = tokio::spawn(ws::count_errors(replies));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for i in 0..samples {
        ticker.tick().await;
        let bed = format!("{WARD}-B{:02}", i % BEDS);
        let mutation = if (i / BEDS).is_multiple_of(2) {
            format!(
                r#"mutation {{ blockBed(input: {{bedId: "{bed}", reason: MAINTENANCE}}) {{ position }} }}"#
            )
        } else {
            format!(r#"mutation {{ unblockBed(input: {{bedId: "{bed}"}}) {{ position }} }}"#)
        };
        sent.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .entry(bed)
            .or_default()
            .push_back(Instant::now());
        let message = json!({"id": format!("m{i}"), "type": "subscribe", "payload": {"query": mutation}});
        sink.send(Message::text(message.to_string())).await?;
    }
    let histogram = tokio::time::timeout(Duration::from_secs(60), collector)
        .await
        .context("pushes did not all arrive")???;
    // Closing our half ends the server's websocket task, and with it the replies stream.
    sink.close().await?;
    running.stop().await?;
    let failed = failures.await.unwrap_or(0);
    if failed > 0 {
        anyhow::bail!("{failed} mutations failed");
    }
    Ok(histogram)
}

async fn collect(
    mut watcher: ws::Socket,
    sent: Sent,
    samples: usize,
) -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    let mut histogram = micros_histogram()?;
    while (histogram.len() as usize) < samples {
        // Two changes to one bed in one projection batch make one push (the latest state), so
        // fewer pushes than mutations may arrive: quiet for this long means they all have.
        let Ok(message) = tokio::time::timeout(QUIET, ws::next_json(&mut watcher)).await else { break };
        let message = message?;
        let Some(bed) = message.pointer("/payload/data/bedBoard/id").and_then(Value::as_str) else {
            continue;
        };
        let started =
            sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.get_mut(bed).and_then(VecDeque::pop_front);
        if let Some(started) = started {
            histogram.record(started.elapsed().as_micros().max(1) as u64)?;
        }
    }
    Ok(histogram)
}
