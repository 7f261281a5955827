//! Virtual-ward readings through the public API, with scoring, escalation and the census live:
//! `patients` patients on one virtual ward; device gateways (`gateways` graphql-ws
//! connections, with a clinician's token: graphql-ws is for screens) send `recordObservations` batches of `batch` readings (each patient in turn,
//! one in ten deteriorating, so the workflows raise tasks) as fast as they are answered, while
//! a clinician's screen follows the ward's census; then, at a steady rate, single readings whose
//! census push is timed (send → the row with that reading's time arrives on the census).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use careflow_auth::Role;
use careflow_domain::NhsNumber;
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use super::backend::Stores;
use super::running::Running;
use super::{micros_histogram, ws};

/// What `readings` measured.
pub struct ReadingsReport {
    /// Readings recorded (each scored) in the throughput phase.
    pub readings: usize,
    /// How long they took.
    pub elapsed: Duration,
    /// Census pushes the clinician's screen received meanwhile.
    pub pushes: usize,
    /// Reading → census push latency, µs.
    pub latency: hdrhistogram::Histogram<u64>,
}

const WARD: &str = "BENCH-VW";

fn nhs(k: u32) -> anyhow::Result<String> {
    (0..)
        .find_map(|j| NhsNumber::from_first_nine(999_100_000 + k * 20 + j))
        .map(|n| n.to_string())
        .context("an NHS number")
}

/// One reading as a GraphQL input literal.
fn reading(admission: &str, n: usize, taken_at: DateTime<Utc>) -> String {
    let (rr, spo2, pulse) = if n.is_multiple_of(10) { (24, 92, 118) } else { (16, 97, 72) };
    format!(
        r#"{{admissionId: "{admission}", readingId: "{}", takenAt: "{}", source: DEVICE, respirationRate: {rr}, spo2: {spo2},
            onOxygen: false, systolicBp: 124, pulse: {pulse}, consciousness: ALERT, temperature: 36.9}}"#,
        uuid::Uuid::new_v4(),
        taken_at.to_rfc3339()
    )
}

fn record(readings: &[String]) -> String {
    format!(
        "mutation {{ recordObservations(input: {{readings: [{}]}}) {{ readings {{ status }} }} }}",
        readings.join(",")
    )
}

/// Sets up the ward and its patients; returns their admission ids.
async fn setup(running: &Running, patients: usize) -> anyhow::Result<Vec<String>> {
    let mut admin = ws::connect(running.http, &running.token(Role::Admin)?).await?;
    ws::execute(
        &mut admin,
        "site",
        r#"mutation { registerSite(input: {siteId: "BENCH01", name: "Bench General"}) { position } }"#,
    )
    .await?;
    let configure = format!(
        r#"mutation {{ configureVirtualWard(input: {{wardId: "{WARD}", siteId: "BENCH01", name: "Bench virtual ward", pathway: RESPIRATORY, beds: {patients}}}) {{ visible }} }}"#
    );
    ws::execute(&mut admin, "vw", &configure).await?;
    let team = format!(
        r#"mutation {{ configureTeam(input: {{teamId: "BENCH-VW-TEAM", name: "Bench hospital at home", kind: VIRTUAL_WARD, wards: ["{WARD}"], members: []}}) {{ visible }} }}"#
    );
    ws::execute(&mut admin, "team", &team).await?;
    let mut clinician = ws::connect(running.http, &running.token(Role::VirtualWardClinician)?).await?;
    let mut admissions = Vec::with_capacity(patients);
    for k in 0..patients {
        let nhs = nhs(u32::try_from(k)?)?;
        let register = format!(
            r#"mutation {{ registerPatient(input: {{nhsNumber: "{nhs}", givenName: "Bench", familyName: "Patient{k}", dateOfBirth: "1940-01-01", gender: FEMALE}}) {{ position }} }}"#
        );
        ws::execute(&mut clinician, &format!("p{k}"), &register).await?;
        let admit = format!(
            r#"mutation {{ admitToVirtualWard(input: {{wardId: "{WARD}", nhsNumber: "{nhs}", plan: {{observations: [RESPIRATION_RATE, OXYGEN_SATURATION,
                AIR_OR_OXYGEN, SYSTOLIC_BLOOD_PRESSURE, PULSE, CONSCIOUSNESS, TEMPERATURE], everyMinutes: 240}}}}) {{ admissionId }} }}"#
        );
        let admitted = ws::execute(&mut clinician, &format!("a{k}"), &admit).await?;
        let id = admitted
            .pointer("/admitToVirtualWard/admissionId")
            .and_then(Value::as_str)
            .context("no admission id")?;
        admissions.push(id.to_owned());
    }
    Ok(admissions)
}

const CENSUS: &str = r#"subscription { virtualWardCensus(wardId: "BENCH-VW") { full changed { admissionId latest { takenAt } } } }"#;

/// Measures it. See the module docs.
pub async fn run(
    stores: &Stores,
    patients: usize,
    gateways: usize,
    batch: usize,
    total: usize,
    rate: u32,
    samples: usize,
) -> anyhow::Result<ReadingsReport> {
    let running = Running::start(stores, "readings", &[]).await?;
    let admissions = Arc::new(setup(&running, patients).await?);

    // Throughput, the census followed.
    let mut screen = ws::connect(running.http, &running.token(Role::VirtualWardClinician)?).await?;
    ws::start(&mut screen, "census", CENSUS).await?;
    ws::next_json(&mut screen).await?;
    let pushes = tokio::spawn(async move {
        let mut n = 0usize;
        while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_secs(3), ws::next_json(&mut screen)).await {
            n += 1;
        }
        n
    });
    let per_gateway = total.div_ceil(gateways.max(1));
    let started = Instant::now();
    let mut senders = Vec::new();
    for g in 0..gateways {
        // graphql-ws is for screens: a device gateway's token posts over HTTP instead. The
        // mutation, its checks and its path through careflow are the same either way.
        let token = running.token_for(Role::VirtualWardClinician, &format!("bench.gateway{g}"))?;
        let mut socket = ws::connect(running.http, &token).await?;
        let admissions = admissions.clone();
        senders.push(tokio::spawn(async move {
            let mut sent = 0usize;
            let mut i = 0usize;
            while sent < per_gateway {
                let n = batch.min(per_gateway - sent);
                let now = Utc::now();
                let readings: Vec<String> = (0..n)
                    .map(|j| {
                        let k = g * per_gateway + sent + j;
                        reading(&admissions[k % admissions.len()], k, now)
                    })
                    .collect();
                let answer = ws::execute(&mut socket, &format!("r{i}"), &record(&readings)).await?;
                let recorded = answer
                    .pointer("/recordObservations/readings")
                    .and_then(Value::as_array)
                    .map_or(0, |r| r.iter().filter(|r| r["status"] == "RECORDED").count());
                anyhow::ensure!(recorded == n, "{} of {n} readings recorded: {answer}", recorded);
                sent += n;
                i += 1;
            }
            anyhow::Ok(sent)
        }));
    }
    let mut readings = 0;
    for sender in senders {
        readings += sender.await??;
    }
    let elapsed = started.elapsed();
    let pushes = pushes.await.unwrap_or(0);

    // Latency: single readings at a steady rate, each timed to its census push.
    let mut screen = ws::connect(running.http, &running.token(Role::VirtualWardClinician)?).await?;
    ws::start(&mut screen, "census", CENSUS).await?;
    ws::next_json(&mut screen).await?;
    let sent: Arc<Mutex<HashMap<(String, i64), Instant>>> = Arc::default();
    let collector = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let mut histogram = micros_histogram()?;
            while (histogram.len() as usize) < samples {
                let Ok(message) =
                    tokio::time::timeout(Duration::from_secs(5), ws::next_json(&mut screen)).await
                else {
                    break;
                };
                let message = message?;
                let arrived = Instant::now();
                let rows = message
                    .pointer("/payload/data/virtualWardCensus/changed")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for row in rows {
                    let (Some(id), Some(at)) =
                        (row["admissionId"].as_str(), row.pointer("/latest/takenAt").and_then(Value::as_str))
                    else {
                        continue;
                    };
                    let Ok(at) = DateTime::parse_from_rfc3339(at) else { continue };
                    let key = (id.to_owned(), at.timestamp_micros());
                    if let Some(started) = sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.remove(&key)
                    {
                        histogram.record(arrived.duration_since(started).as_micros().max(1) as u64)?;
                    }
                }
            }
            anyhow::Ok(histogram)
        })
    };
    let device =
        ws::connect(running.http, &running.token_for(Role::VirtualWardClinician, "bench.device")?).await?;
    let (mut sink, replies) = device.split();
    let failures = tokio::spawn(ws::count_errors(replies));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    for i in 0..samples {
        ticker.tick().await;
        let admission = &admissions[i % admissions.len()];
        let now = Utc::now();
        sent.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .insert((admission.clone(), now.timestamp_micros()), Instant::now());
        let message = json!({"id": format!("l{i}"), "type": "subscribe", "payload": {"query": record(&[reading(admission, i + 1, now)])}});
        sink.send(Message::text(message.to_string())).await?;
    }
    let latency = tokio::time::timeout(Duration::from_secs(120), collector)
        .await
        .context("pushes did not all arrive")???;
    sink.close().await?;
    running.stop().await?;
    let failed = failures.await.unwrap_or(0);
    anyhow::ensure!(failed == 0, "{failed} readings failed");
    Ok(ReadingsReport { readings, elapsed, pushes, latency })
}
