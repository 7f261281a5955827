//! The care market (DESIGN.md §4, brokerage): with 1,000 requests open, each with five offers,
//!
//! - offers ranked per second by a council's rule, the pure ranking (score, parts, total order)
//!   over every open request, as a read of the market does it;
//! - the `careMarket` query (every open request read, ranked and serialised) through the real
//!   gateway, p50/p99;
//! - the market's legs of the flow, command → push on another client: `postCareRequest` → the
//!   eligible provider's `providerRequests` push, `makeOffer` → the broker's `careMarket` push,
//!   `acceptOffer` → the winning provider's push (now identified).
//!
//! The trusted assessments the requests are posted from are written to the log directly (an
//! assessment started and submitted to the council: what the request's decision reads); every
//! request, offer and acceptance goes through the public GraphQL API.

use std::time::{Duration, Instant};

use anyhow::Context;
use careflow_auth::Role;
use careflow_domain::assessments::{AssessmentEvent, AssessmentId, Contributor, RoleName};
use careflow_domain::brokerage::{CqcRating, OfferId, Pence, RankingRule, ranking};
use careflow_domain::tasks::{District, UserId};
use careflow_domain::{NhsNumber, OdsCode, TemplateId};
use careflow_eventstore::{ExpectedVersion, Metadata, NewEvent, StreamAppend, StreamName};
use chrono::{NaiveDate, Utc};
use hdrhistogram::Histogram;
use serde_json::Value;
use uuid::Uuid;

use super::backend::Stores;
use super::running::Running;
use super::{Throughput, micros_histogram, ws};

const COUNCIL: &str = "LA001";
const PROVIDERS: [(&str, &str); 5] = [
    ("VN001", "GOOD"),
    ("VN002", "OUTSTANDING"),
    ("VN003", "GOOD"),
    ("VN004", "REQUIRES_IMPROVEMENT"),
    ("VN005", "GOOD"),
];

/// What the market part measured.
pub struct Report {
    /// Offers ranked by the pure ranking.
    pub ranked: Throughput,
    /// `careMarket` query latencies with every request open.
    pub query: Histogram<u64>,
    /// The size of one `careMarket` answer, bytes.
    pub answer_bytes: usize,
    /// postCareRequest → eligible provider's push.
    pub post: Histogram<u64>,
    /// makeOffer → broker's market push.
    pub offer: Histogram<u64>,
    /// acceptOffer → winning provider's push.
    pub accept: Histogram<u64>,
}

/// The pure ranking: `requests` requests of `offers` offers each, ranked again and again for
/// about two seconds.
pub fn rank_throughput(requests: usize, offers: usize) -> anyhow::Result<Throughput> {
    let providers: Vec<OdsCode> =
        (0..offers).map(|k| OdsCode::parse(&format!("VN{k:03}"))).collect::<Result<_, _>>()?;
    let districts: Vec<District> =
        ["LS6", "LS7", "LS12", "BD7"].iter().map(|d| District::parse(d)).collect::<Result<_, _>>()?;
    let start_by = NaiveDate::from_ymd_opt(2026, 12, 10).context("a date")?;
    let now = Utc::now();
    let markets: Vec<Vec<ranking::Candidate<'_>>> = (0..requests)
        .map(|r| {
            (0..offers)
                .map(|o| ranking::Candidate {
                    offer_id: OfferId(Uuid::from_u128((r * offers + o) as u128)),
                    provider: &providers[o],
                    rating: CqcRating::ALL[(r + o) % 4],
                    home_district: &districts[(r + o) % districts.len()],
                    weekly_price: Pence(80_000 + ((r * 7919 + o * 104_729) % 40_000) as u64),
                    earliest_start: start_by + chrono::Duration::days(((r + o) % 9) as i64 - 3),
                    made_at: now + chrono::Duration::seconds(o as i64),
                })
                .collect()
        })
        .collect();
    let rule = RankingRule::new(50, 30, 10, 10).map_err(anyhow::Error::msg)?;
    let started = Instant::now();
    let mut count = 0u64;
    while started.elapsed() < Duration::from_secs(2) {
        for (r, offers) in markets.iter().enumerate() {
            let wanted = ranking::Wanted {
                budget: Pence(100_000),
                start_by,
                district: &districts[r % districts.len()],
            };
            let ranked = ranking::rank(&rule, &wanted, offers);
            count += ranked.len() as u64;
            std::hint::black_box(ranked);
        }
    }
    Ok(Throughput { count, elapsed: started.elapsed() })
}

/// The assessment each request is posted from, started by the council and submitted to the
/// trust, written to the log directly.
async fn assessments(running: &Running, count: usize) -> anyhow::Result<Vec<AssessmentId>> {
    let store = running.store.clone().context("the bench runs the store in-process")?;
    let by = Contributor {
        user_id: UserId::parse("bench.sw")?,
        role: RoleName::parse("social_worker").map_err(anyhow::Error::msg)?,
        organisation: OdsCode::parse(COUNCIL)?,
    };
    let mut ids = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(100) {
        let mut appends = Vec::new();
        for &i in chunk {
            let id = AssessmentId(Uuid::new_v4());
            let nhs = (0..)
                .find_map(|j| NhsNumber::from_first_nine(999_500_000 + (i as u32) * 10 + j))
                .context("a test NHS number")?;
            let at = Utc::now();
            let events = [
                AssessmentEvent::AssessmentStarted {
                    assessment_id: id,
                    nhs_number: nhs,
                    template_id: TemplateId::parse("care-home-trusted-assessment")?,
                    template_version: 1,
                    organisation: OdsCode::parse(COUNCIL)?,
                    task_id: None,
                    by: by.clone(),
                    at,
                },
                AssessmentEvent::AssessmentSubmitted {
                    assessment_id: id,
                    to: [OdsCode::parse("RXA")?].into(),
                    by: by.clone(),
                    at,
                },
            ];
            let events = events
                .iter()
                .map(|e| {
                    NewEvent::json(Uuid::new_v4(), e.event_type(), 1, e, Metadata::new(Uuid::new_v4(), at))
                })
                .collect::<Result<Vec<_>, _>>()?;
            appends.push(StreamAppend {
                stream: StreamName::new(format!("assessment-{id}"))?,
                expected: ExpectedVersion::NoStream,
                events,
            });
            ids.push(id);
        }
        store.append(appends).await?;
    }
    Ok(ids)
}

fn post(assessment: &AssessmentId, district: &str) -> String {
    format!(
        r#"mutation {{ postCareRequest(input: {{assessmentId: "{assessment}", need: {{careType: RESIDENTIAL, bedType: STANDARD}},
            district: "{district}", terms: {{startBy: "{}", weeklyBudgetPence: 100000}}}}) {{ requestId }} }}"#,
        (Utc::now().date_naive() + chrono::Duration::days(5))
    )
}

fn offer(request: &str, pence: u64) -> String {
    format!(
        r#"mutation {{ makeOffer(input: {{requestId: "{request}", weeklyPricePence: {pence}, earliestStart: "{}"}}) {{ offerId }} }}"#,
        (Utc::now().date_naive() + chrono::Duration::days(3))
    )
}

/// The next push on `socket` that `matches`, within ten seconds.
async fn pushed(socket: &mut ws::Socket, matches: impl Fn(&Value) -> bool) -> anyhow::Result<()> {
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let message = tokio::time::timeout_at(until.into(), ws::next_json(socket))
            .await
            .context("no push in time")??;
        if matches(&message) {
            return Ok(());
        }
    }
}

/// Runs the market part: `requests` open requests with five offers each.
pub async fn run(stores: &Stores, requests: usize, samples: usize) -> anyhow::Result<Report> {
    let ranked = rank_throughput(requests, PROVIDERS.len())?;
    let running = Running::start(stores, "market", &["--seed-templates", COUNCIL]).await?;
    running.ready(Duration::from_secs(60)).await?;
    let http = running.http;
    let broker_token = running.token_in(Role::Broker, "bench.broker", COUNCIL)?;
    let mut broker = ws::connect(http, &broker_token).await?;
    let mut homes = Vec::new();
    for (ods, rating) in PROVIDERS {
        let token = running.token_in(Role::CareProvider, &format!("bench.{ods}"), ods)?;
        let mut socket = ws::connect(http, &token).await?;
        let register = format!(
            r#"mutation {{ registerProvider(input: {{name: "Home {ods}", services: [RESIDENTIAL], bedTypes: [STANDARD],
                districts: ["LS6", "LS7"], homeDistrict: "LS6", registeredBeds: 5000,
                cqc: {{rating: {rating}, ratedOn: "2025-10-01"}}}}) {{ visible }} }}"#
        );
        ws::execute(&mut socket, "register", &register).await?;
        homes.push(socket);
    }
    // The open requests, each with an offer from every home.
    let ids = assessments(&running, requests + samples * 2).await?;
    let (market_ids, flow_ids) = ids.split_at(requests);
    for (i, assessment) in market_ids.iter().enumerate() {
        let data = ws::execute(&mut broker, &format!("p{i}"), &post(assessment, "LS6")).await?;
        let request = data["postCareRequest"]["requestId"].as_str().context("a request id")?.to_owned();
        for (k, home) in homes.iter_mut().enumerate() {
            ws::execute(
                home,
                &format!("o{i}"),
                &offer(&request, 85_000 + (k as u64) * 2_500 + (i as u64 % 7) * 100),
            )
            .await?;
        }
    }

    // The market with every request open, as a broker's screen asks for it.
    let query = r#"{ careMarket { figures { open } requests { id secondsLeft offers { offerId weeklyPricePence
        ranking { rank score explanation parts { criterion points } } } } } }"#;
    let mut latencies = micros_histogram()?;
    let mut answer_bytes = 0;
    for i in 0..50 {
        let started = Instant::now();
        let data = ws::execute(&mut broker, &format!("q{i}"), query).await?;
        latencies.record(started.elapsed().as_micros().max(1) as u64)?;
        anyhow::ensure!(
            data["careMarket"]["figures"]["open"].as_u64() == Some(requests as u64),
            "every request open"
        );
        answer_bytes = data.to_string().len();
    }

    // The market's legs of the flow, one at a time: each command, then the push it causes.
    let mut watcher = ws::connect(http, &broker_token).await?;
    ws::start(
        &mut watcher,
        "market",
        "subscription { careMarket { full changed { id offers { offerId } } } }",
    )
    .await?;
    pushed(&mut watcher, |m| m.pointer("/payload/data/careMarket/full") == Some(&Value::Bool(true))).await?;
    let winner_token = running.token_in(Role::CareProvider, "bench.watch", "VN002")?;
    let mut winner = ws::connect(http, &winner_token).await?;
    ws::start(
        &mut winner,
        "view",
        "subscription { providerRequests { full changed { id identified offers { state } } } }",
    )
    .await?;
    pushed(&mut winner, |m| m.pointer("/payload/data/providerRequests/full") == Some(&Value::Bool(true)))
        .await?;
    let (mut post_h, mut offer_h, mut accept_h) =
        (micros_histogram()?, micros_histogram()?, micros_histogram()?);
    for (i, assessment) in flow_ids.iter().take(samples).enumerate() {
        let started = Instant::now();
        let data = ws::execute(&mut broker, &format!("fp{i}"), &post(assessment, "LS7")).await?;
        let request = data["postCareRequest"]["requestId"].as_str().context("a request id")?.to_owned();
        let id = Value::String(request.clone());
        pushed(&mut winner, |m| m.pointer("/payload/data/providerRequests/changed/0/id") == Some(&id))
            .await?;
        post_h.record(started.elapsed().as_micros().max(1) as u64)?;

        let started = Instant::now();
        let data = ws::execute(&mut homes[1], &format!("fo{i}"), &offer(&request, 90_000)).await?;
        let offer_id = data["makeOffer"]["offerId"].as_str().context("an offer id")?.to_owned();
        let offered = Value::String(offer_id.clone());
        pushed(&mut watcher, |m| {
            m.pointer("/payload/data/careMarket/changed/0/id") == Some(&id)
                && m.pointer("/payload/data/careMarket/changed/0/offers/0/offerId") == Some(&offered)
        })
        .await?;
        offer_h.record(started.elapsed().as_micros().max(1) as u64)?;

        let started = Instant::now();
        let accept = format!(
            r#"mutation {{ acceptOffer(input: {{requestId: "{request}", offerId: "{offer_id}"}}) {{ requestId }} }}"#
        );
        ws::execute(&mut broker, &format!("fa{i}"), &accept).await?;
        pushed(&mut winner, |m| {
            m.pointer("/payload/data/providerRequests/changed/0/id") == Some(&id)
                && m.pointer("/payload/data/providerRequests/changed/0/identified")
                    == Some(&Value::Bool(true))
        })
        .await?;
        accept_h.record(started.elapsed().as_micros().max(1) as u64)?;
    }
    running.stop().await?;
    Ok(Report { ranked, query: latencies, answer_bytes, post: post_h, offer: offer_h, accept: accept_h })
}
