//! Section save → other editors' push latency on one trusted assessment, through the whole of
//! careflow in-process: `editors` people (ward nurses) subscribe to one assessment, as its
//! screen does; one of them saves its sections in turn at a steady rate (each save on the
//! version it last saved, so none conflicts); every subscriber's push of each new section
//! version is one sample (the saver's own push included, as its screen also gets it).

use std::collections::HashMap;
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

/// The sections a ward nurse may edit in the reablement template, saved in turn.
const SECTIONS: [(&str, &str); 3] =
    [("frailty", "frailty-notes"), ("medication", "medication-notes"), ("nutrition", "nutrition-notes")];

/// What each editor's screen follows.
const FOLLOWED: &str = "status awaitingSignOff presence { userId sectionId } \
    sections { id version answers { questionId text score choice } savedBy { userId } signOff { version } }";

/// No push for this long after the last one: every push has arrived.
const QUIET: Duration = Duration::from_secs(3);

/// When each (section, version) was sent.
type Sent = Arc<Mutex<HashMap<(String, u64), Instant>>>;

/// Measures `saves` section saves at `rate` saves/s, pushed to `editors` subscribers.
pub async fn latency(
    stores: &Stores,
    editors: usize,
    rate: u32,
    saves: usize,
) -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    let running = Running::start(stores, "coedit", &["--seed-templates", "RXA"]).await?;
    let http = running.http;
    let mut saver = ws::connect(http, &running.token_for(Role::WardNurse, "bench.nurse0")?).await?;
    let register = r#"mutation { registerPatient(input: {nhsNumber: "9990000018", givenName: "Bench", familyName: "Patient",
        dateOfBirth: "1940-01-01", gender: FEMALE}) { position } }"#;
    ws::execute(&mut saver, "register", register).await?;
    let started = ws::execute(
        &mut saver,
        "start",
        r#"mutation { startAssessment(input: {nhsNumber: "9990000018", templateId: "reablement-trusted-assessor"}) { assessmentId } }"#,
    )
    .await?;
    let id = started
        .pointer("/startAssessment/assessmentId")
        .and_then(Value::as_str)
        .context("no assessment id")?
        .to_owned();

    let sent: Sent = Arc::default();
    let mut collectors = Vec::new();
    for n in 0..editors {
        let mut socket =
            ws::connect(http, &running.token_for(Role::WardNurse, &format!("bench.nurse{n}"))?).await?;
        ws::start(
            &mut socket,
            "watch",
            &format!(r#"subscription {{ assessment(id: "{id}") {{ {FOLLOWED} }} }}"#),
        )
        .await?;
        // The first push is the assessment as it is: live from here on.
        ws::next_json(&mut socket).await?;
        collectors.push(tokio::spawn(collect(socket, sent.clone(), saves)));
    }

    let (mut sink, replies) = saver.split();
    let failures = tokio::spawn(ws::count_errors(replies));
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(rate.max(1))));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut versions: HashMap<&str, u64> = HashMap::new();
    for i in 0..saves {
        ticker.tick().await;
        let (section, question) = SECTIONS[i % SECTIONS.len()];
        let base = versions.entry(section).or_default();
        let mutation = format!(
            r#"mutation {{ saveAssessmentSection(input: {{assessmentId: "{id}", sectionId: "{section}", baseVersion: {base},
                answers: [{{questionId: "{question}", text: "Reviewed, save {i}"}}]}}) {{ visible }} }}"#
        );
        *base += 1;
        sent.lock()
            .map_err(|_| anyhow::anyhow!("poisoned"))?
            .insert((section.to_owned(), *base), Instant::now());
        let message = json!({"id": format!("s{i}"), "type": "subscribe", "payload": {"query": mutation}});
        sink.send(Message::text(message.to_string())).await?;
    }
    let mut histogram = micros_histogram()?;
    for collector in collectors {
        let part = tokio::time::timeout(Duration::from_secs(120), collector)
            .await
            .context("pushes did not all arrive")???;
        histogram.add(part)?;
    }
    sink.close().await?;
    running.stop().await?;
    let failed = failures.await.unwrap_or(0);
    if failed > 0 {
        anyhow::bail!("{failed} saves failed");
    }
    Ok(histogram)
}

/// One subscriber's samples: each section version it is shown for the first time.
async fn collect(
    mut socket: ws::Socket,
    sent: Sent,
    saves: usize,
) -> anyhow::Result<hdrhistogram::Histogram<u64>> {
    let mut histogram = micros_histogram()?;
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut versions_seen = 0usize;
    while versions_seen < saves {
        // Two saves in one projection batch make one push (the latest state): quiet for this
        // long means every push has arrived.
        let Ok(message) = tokio::time::timeout(QUIET, ws::next_json(&mut socket)).await else { break };
        let message = message?;
        let arrived = Instant::now();
        let Some(sections) = message.pointer("/payload/data/assessment/sections").and_then(Value::as_array)
        else {
            continue;
        };
        for section in sections {
            let (Some(id), Some(version)) = (section["id"].as_str(), section["version"].as_u64()) else {
                continue;
            };
            let last = seen.entry(id.to_owned()).or_default();
            if version <= *last {
                continue;
            }
            versions_seen += usize::try_from(version - *last).unwrap_or(0);
            *last = version;
            let started =
                sent.lock().map_err(|_| anyhow::anyhow!("poisoned"))?.get(&(id.to_owned(), version)).copied();
            if let Some(started) = started {
                histogram.record(arrived.duration_since(started).as_micros().max(1) as u64)?;
            }
        }
    }
    Ok(histogram)
}
