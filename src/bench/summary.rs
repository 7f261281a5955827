//! A patient-summary query under load, through the whole of careflow, in-process: the demo's
//! patients (about 330, with flags, stays and timelines), `clients` GraphQL clients each asking
//! for one patient's whole record (demographics, flags, location with bed and ward names,
//! timeline) back to back, while a writer changes patients' demographics at a steady rate (so
//! the summaries being read are being rewritten).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use careflow_auth::Role;
use hdrhistogram::Histogram;
use serde_json::Value;

use super::backend::Stores;
use super::running::Running;
use super::{Throughput, micros_histogram, ws};

/// The demo's postcodes: every demo patient lives at one.
const POSTCODES: [&str; 8] =
    ["LS6 2QB", "LS7 3JB", "LS8 1AA", "BD7 1DP", "BD9 4RT", "HX1 2TT", "HX3 5AX", "WF1 3LP"];

const RECORD: &str = "patient(nhsNumber: \"NHS\") { nhsNumber givenName familyName dateOfBirth gender postcode \
    gpPractice sharingDissent activeFlagKinds flags(includeResolved: true) { id kind snomedCode frailtyScore \
    severity reason reviewOn raisedAt active raisedBy { userId organisation } } location { siteId wardId bedId \
    bedLabel wardName admittedAt expectedDischargeDate } timeline { at context eventType summary } }";

/// What one run measured.
pub struct SummaryReport {
    /// Query latencies, µs.
    pub latency: Histogram<u64>,
    /// Queries answered.
    pub queries: Throughput,
    /// Demographics updates committed meanwhile.
    pub writes: Throughput,
    /// Patients queried.
    pub patients: usize,
}

/// Runs `clients` readers for `duration` while demographics change at `rate` per second.
pub async fn run(
    stores: &Stores,
    clients: usize,
    duration: Duration,
    rate: u32,
) -> anyhow::Result<SummaryReport> {
    let running = Running::start(stores, "summary", &["--demo"]).await?;
    running.ready(Duration::from_secs(120)).await?;
    let nurse = running.token(Role::WardNurse)?;
    let clerk = running.token(Role::WardClerk)?;

    let mut setup = ws::connect(running.http, &nurse).await?;
    let mut patients: Vec<String> = Vec::new();
    for (i, postcode) in POSTCODES.iter().enumerate() {
        let query = format!("{{ searchPatients(postcode: \"{postcode}\") {{ nhsNumber }} }}");
        let found = ws::execute(&mut setup, &format!("search{i}"), &query).await?;
        let found = found.get("searchPatients").and_then(Value::as_array).context("a search result")?;
        patients.extend(found.iter().filter_map(|p| p.get("nhsNumber")?.as_str().map(str::to_owned)));
    }
    anyhow::ensure!(patients.len() > 100, "the demo has patients: found {}", patients.len());
    let patients = Arc::new(patients);

    let deadline = Instant::now() + duration;
    let started = Instant::now();
    let writes = Arc::new(AtomicU64::new(0));
    let writer = {
        let (patients, writes) = (patients.clone(), writes.clone());
        let mut socket = ws::connect(running.http, &clerk).await?;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
            let mut i = 0usize;
            while Instant::now() < deadline {
                ticker.tick().await;
                let nhs = &patients[(i * 31) % patients.len()];
                let practice = if (i / patients.len()).is_multiple_of(2) { "B82099" } else { "B86001" };
                let mutation = format!(
                    "mutation {{ updatePatientDemographics(input: {{nhsNumber: \"{nhs}\", gpPractice: \"{practice}\"}}) {{ position }} }}"
                );
                ws::execute(&mut socket, &format!("w{i}"), &mutation).await?;
                writes.fetch_add(1, Ordering::Relaxed);
                i += 1;
            }
            anyhow::Ok(())
        })
    };
    let mut readers = Vec::with_capacity(clients);
    for client in 0..clients {
        let patients = patients.clone();
        let mut socket = ws::connect(running.http, &nurse).await?;
        readers.push(tokio::spawn(async move {
            let mut histogram = micros_histogram()?;
            let mut i = client;
            while Instant::now() < deadline {
                let nhs = &patients[(i * 7919) % patients.len()];
                let query = format!("{{ {} }}", RECORD.replace("NHS", nhs));
                let sent = Instant::now();
                let data = ws::execute(&mut socket, &format!("q{i}"), &query).await?;
                histogram.record(sent.elapsed().as_micros().max(1) as u64)?;
                anyhow::ensure!(data.pointer("/patient/nhsNumber").is_some(), "a record for {nhs}: {data}");
                i += clients;
            }
            anyhow::Ok(histogram)
        }));
    }
    let mut latency = micros_histogram()?;
    for reader in readers {
        latency.add(reader.await??)?;
    }
    let elapsed = started.elapsed();
    writer.await??;
    let written = writes.load(Ordering::Relaxed);
    running.stop().await?;
    Ok(SummaryReport {
        queries: Throughput { count: latency.len(), elapsed },
        writes: Throughput { count: written, elapsed },
        latency,
        patients: patients.len(),
    })
}
