//! The workflows' figures, through the whole of careflow in-process:
//!
//! - `workflow`: event → task visible in the inbox. A social worker subscribes to their team's
//!   inbox; a nurse marks patients medically optimised (pathway 1) at a steady rate; the
//!   discharge workflow routes each to the team by a routing rule; each push is matched to the
//!   mutation that caused it (by the patient's NHS number). The social worker completes each
//!   task as it arrives, as people do, so the inbox stays a working size.
//! - `timers`: with `pending` deadlines due (tasks past their due time across 1,000 teams,
//!   written to the store before careflow starts), how fast the clock marks them overdue
//!   through the real command path (gRPC → handler → store → read model).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use careflow_auth::Role;
use careflow_domain::NhsNumber;
use careflow_domain::beds::Label;
use careflow_domain::tasks::{Priority, RaisedBy, TaskEvent, TaskId, TaskKind, TeamConfig, TeamKind, UserId};
use careflow_domain::{OdsCode, TeamId};
use careflow_eventstore::sqlite::SqliteStore;
use careflow_eventstore::{EventStore, ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamName};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::backend::{Backend, Stores};
use super::running::Running;
use super::{Throughput, micros_histogram, ws};

const WARD: &str = "BENCH-W1";
const TEAM: &str = "BENCH-SWT";

type Sent = Arc<Mutex<HashMap<String, Instant>>>;

/// The `i`th patient's NHS number (999 range).
fn nhs(i: usize) -> anyhow::Result<NhsNumber> {
    let base = 999_100_000 + u32::try_from(i * 11)?;
    (0..11).find_map(|k| NhsNumber::from_first_nine(base + k)).context("a test-range NHS number")
}

/// Measures `samples` (at most 2,000: one patient per bed) event → inbox latencies at `rate`
/// medically-optimised marks per second.
pub async fn latency(
    stores: &Stores,
    rate: u32,
    samples: usize,
) -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    let samples = samples.min(2_000);
    let running = Running::start(stores, "workflow", &[]).await?;
    let http = running.http;
    let (admin, nurse, worker) =
        (running.token(Role::Admin)?, running.token(Role::WardNurse)?, running.token(Role::SocialWorker)?);
    let mut setup = ws::connect(http, &admin).await?;
    ws::bench_ward(&mut setup, WARD).await?;
    let team = format!(
        r#"mutation {{ configureTeam(input: {{teamId: "{TEAM}", name: "Bench social work", kind: SOCIAL_CARE,
            members: ["bench.social_worker"]}}) {{ position }} }}"#
    );
    ws::execute(&mut setup, "team", &team).await?;
    let rule = format!(
        r#"mutation {{ setRoutingRule(input: {{ruleId: "bench", name: "Everyone", taskKind: TRUSTED_ASSESSMENT,
            pathways: [1, 2, 3], teamId: "{TEAM}"}}) {{ position }} }}"#
    );
    ws::execute(&mut setup, "rule", &rule).await?;
    let mut nursing = ws::connect(http, &nurse).await?;
    let mut stays = Vec::with_capacity(samples);
    for i in 0..samples {
        let bed = format!("{WARD}-B{i:04}");
        let add = format!(
            r#"mutation {{ addBed(input: {{bedId: "{bed}", wardId: "{WARD}", label: "Bed {i}"}}) {{ position }} }}"#
        );
        ws::execute(&mut setup, &format!("bed{i}"), &add).await?;
        let admit = format!(
            r#"mutation {{ admitPatient(input: {{bedId: "{bed}", nhsNumber: "{}", givenName: "Bench", familyName: "Patient"}}) {{ stayId }} }}"#,
            nhs(i)?
        );
        let admitted = ws::execute(&mut nursing, &format!("admit{i}"), &admit).await?;
        let stay = admitted.pointer("/admitPatient/stayId").and_then(Value::as_str).context("a stay id")?;
        stays.push((stay.to_owned(), nhs(i)?.to_string()));
    }

    let sent: Sent = Arc::default();
    let mut watcher = ws::connect(http, &worker).await?;
    ws::start(
        &mut watcher,
        "inbox",
        &format!(r#"subscription {{ teamInbox(teamId: "{TEAM}") {{ id nhsNumber }} }}"#),
    )
    .await?;
    let working = ws::connect(http, &worker).await?;
    let collector = tokio::spawn(collect(watcher, working, sent.clone(), samples));

    let (mut sink, replies) = nursing.split();
    let failures = tokio::spawn(ws::count_errors(replies));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for (i, (stay, nhs)) in stays.iter().enumerate() {
        ticker.tick().await;
        let mutation = format!(
            r#"mutation {{ markMedicallyOptimised(input: {{stayId: "{stay}", dischargeReadyDate: "2030-01-02", pathway: 1}}) {{ position }} }}"#
        );
        sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.insert(nhs.clone(), Instant::now());
        let message = json!({"id": format!("mo{i}"), "type": "subscribe", "payload": {"query": mutation}});
        sink.send(Message::text(message.to_string())).await?;
    }
    let histogram = tokio::time::timeout(Duration::from_secs(120), collector)
        .await
        .context("the tasks did not all arrive")???;
    sink.close().await?;
    running.stop().await?;
    let failed = failures.await.unwrap_or(0);
    if failed > 0 {
        bail!("{failed} mutations failed");
    }
    Ok(histogram)
}

/// Records each task's first appearance in the inbox, and completes it (on another socket).
async fn collect(
    mut watcher: ws::Socket,
    mut working: ws::Socket,
    sent: Sent,
    samples: usize,
) -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    let mut histogram = micros_histogram()?;
    let mut seen = std::collections::HashSet::new();
    let mut completions = 0usize;
    while (histogram.len() as usize) < samples {
        let message = ws::next_json(&mut watcher).await?;
        let Some(rows) = message.pointer("/payload/data/teamInbox").and_then(Value::as_array) else {
            continue;
        };
        for row in rows {
            let (Some(id), Some(nhs)) = (row["id"].as_str(), row["nhsNumber"].as_str()) else { continue };
            if !seen.insert(id.to_owned()) {
                continue;
            }
            let started = sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.remove(nhs);
            if let Some(started) = started {
                histogram.record(started.elapsed().as_micros().max(1) as u64)?;
            }
            completions += 1;
            let complete = format!(
                r#"mutation {{ completeTask(input: {{taskId: "{id}", outcome: "Assessed"}}) {{ position }} }}"#
            );
            ws::start(&mut working, &format!("done{completions}"), &complete).await?;
        }
    }
    Ok(histogram)
}

/// What `timers` measured.
pub struct TimerReport {
    /// Deadlines due when careflow started.
    pub pending: usize,
    /// From careflow ready to every task shown overdue.
    pub fired: Throughput,
}

/// Writes `pending` tasks past their due time (across 1,000 teams) straight to a fresh SQLite
/// store, starts careflow on it, and times until every one is shown overdue.
pub async fn timers(stores: &Stores, pending: usize) -> anyhow::Result<TimerReport> {
    if stores.backend != Backend::Sqlite {
        bail!("the timers benchmark writes its deadlines to an embedded store; run it with --backend sqlite");
    }
    let data_dir = stores.dir().join("timers");
    std::fs::create_dir_all(&data_dir)?;
    let teams = 1_000usize;
    {
        let store = SqliteStore::open(data_dir.join("events.sqlite"))?;
        let organisation = OdsCode::parse("RXA")?;
        let now = chrono::Utc::now();
        let json = |event: &TaskEvent, stream: String| -> anyhow::Result<StreamAppend> {
            let metadata = Metadata::new(uuid::Uuid::now_v7(), now);
            let new = NewEvent::json(uuid::Uuid::now_v7(), event.event_type(), 1, event, metadata)?;
            Ok(StreamAppend {
                stream: StreamName::new(stream)?,
                expected: ExpectedVersion::Any,
                events: vec![new],
            })
        };
        for t in 0..teams {
            let team_id = TeamId::parse(&format!("BENCH-T{t:04}"))?;
            let config = TeamConfig {
                organisation: organisation.clone(),
                name: Label::parse(&format!("Team {t}"))?,
                kind: TeamKind::Other,
                wards: Default::default(),
                lead: Some(UserId::parse(&format!("lead.{t}"))?),
                members: Default::default(),
            };
            let event = TaskEvent::TeamConfigured { team_id: team_id.clone(), config, at: now };
            store.append(vec![json(&event, format!("team-{team_id}"))?]).await?;
        }
        let mut batch = Vec::new();
        for i in 0..pending {
            let task_id = TaskId(uuid::Uuid::now_v7());
            let event = TaskEvent::TaskCreated {
                task_id,
                nhs_number: None,
                title: Label::parse("Bench task")?,
                kind: TaskKind::General,
                team_id: TeamId::parse(&format!("BENCH-T{:04}", i % teams))?,
                organisation: organisation.clone(),
                priority: Priority::Routine,
                due: Some(now - chrono::Duration::seconds(1)),
                links: Vec::new(),
                note: None,
                raised_by: RaisedBy::Person {
                    user_id: UserId::parse("bench")?,
                    organisation: organisation.clone(),
                },
                at: now - chrono::Duration::hours(1),
            };
            batch.push(json(&event, format!("task-{task_id}"))?);
            if batch.len() == 500 {
                store.append(std::mem::take(&mut batch)).await?;
            }
        }
        if !batch.is_empty() {
            store.append(batch).await?;
        }
    }
    let running = Running::start(stores, "timers", &[]).await?;
    running.ready(Duration::from_secs(120)).await?;
    let started = Instant::now();
    let admin = running.token(Role::Admin)?;
    let mut socket = ws::connect(running.http, &admin).await?;
    let mut polls = 0u64;
    loop {
        polls += 1;
        let data = ws::execute(&mut socket, &format!("q{polls}"), "{ teams { overdueTasks } }").await?;
        let overdue: u64 = data
            .pointer("/teams")
            .and_then(Value::as_array)
            .map(|teams| teams.iter().filter_map(|t| t["overdueTasks"].as_u64()).sum())
            .unwrap_or(0);
        if overdue >= pending as u64 {
            break;
        }
        if started.elapsed() > Duration::from_secs(600) {
            bail!("only {overdue} of {pending} deadlines fired in 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let fired = Throughput { count: pending as u64, elapsed: started.elapsed() };
    running.stop().await?;
    Ok(TimerReport { pending, fired })
}
