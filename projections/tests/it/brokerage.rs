//! The brokerage models: the providers and their vacancies, each council's market (requests in
//! play and finished), the requests open for offers, each request's offers and placement, each
//! provider's offers; the vacancy map; rebuilt from zero alike.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;

use careflow_domain::OdsCode;
use careflow_domain::assessments::AssessmentId;
use careflow_domain::beds::{Label, Note};
use careflow_domain::brokerage::{
    BedType, BrokerageEvent, CareNeeds, CareRequestId, CareType, Cqc, CqcRating, DeclineReason, Need,
    OfferId, Pence, ProviderProfile, RankingRule, Terms,
};
use careflow_domain::tasks::{District, UserId};
use careflow_eventstore::memory::MemoryStore;
use careflow_projections::ProjectionRunner;
use careflow_projections::brokerage::{
    BrokerageDoc, BrokerageModel, OPEN_KEY, OfferState, PROVIDERS_KEY, RequestState, RequestView, market_key,
    provider_key, request_key, rule_key, vacancy_map,
};
use careflow_projections::documents::{DocumentReader, MemoryDocuments};
use chrono::{Duration, NaiveDate};
use uuid::Uuid;

use crate::helpers::{nhs, record};

/// 08:00 on 2 November 2026, plus `minutes`.
fn at(minutes: i64) -> chrono::DateTime<chrono::Utc> {
    crate::helpers::at(0) + Duration::minutes(minutes)
}

fn ods(s: &str) -> OdsCode {
    OdsCode::parse(s).unwrap()
}

fn district(s: &str) -> District {
    District::parse(s).unwrap()
}

fn user() -> UserId {
    UserId::parse("someone").unwrap()
}

fn request() -> CareRequestId {
    CareRequestId(Uuid::from_u128(1))
}

fn offer(n: u128) -> OfferId {
    OfferId(Uuid::from_u128(100 + n))
}

fn cqc(rating: CqcRating) -> Cqc {
    Cqc { rating, rated_on: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap() }
}

async fn event(store: &MemoryStore, event: BrokerageEvent) {
    let stream = match &event {
        BrokerageEvent::RankingRuleSet { organisation, .. } => format!("ranking-{organisation}"),
        BrokerageEvent::ProviderRegistered { ods, .. }
        | BrokerageEvent::VacanciesUpdated { ods, .. }
        | BrokerageEvent::ProviderSuspended { ods, .. }
        | BrokerageEvent::CapacityCommitted { ods, .. }
        | BrokerageEvent::CapacityReleased { ods, .. } => format!("provider-{ods}"),
        other => format!("care-request-{}", other.request_id().unwrap()),
    };
    record(store, stream, event.event_type(), &event).await;
}

fn home(name: &str, districts: &[&str], beds: u32) -> ProviderProfile {
    ProviderProfile {
        name: Label::parse(name).unwrap(),
        services: [CareType::Residential].into(),
        bed_types: [BedType::Standard].into(),
        districts: districts.iter().map(|d| district(d)).collect(),
        home_district: district(districts[0]),
        registered_beds: beds,
        weekly_hours: 0,
        rates: [(CareType::Residential, Pence(90_000))].into(),
    }
}

async fn offered(store: &MemoryStore, n: u128, provider: &str, pence: u64) {
    event(
        store,
        BrokerageEvent::OfferMade {
            request_id: request(),
            offer_id: offer(n),
            round: 1,
            provider: ods(provider),
            provider_name: Label::parse(&format!("{provider} House")).unwrap(),
            cqc: cqc(CqcRating::Good),
            home_district: district("LS6"),
            weekly_price: Pence(pence),
            earliest_start: NaiveDate::from_ymd_opt(2026, 11, 5).unwrap(),
            note: None,
            by: user(),
            at: at(10),
        },
    )
    .await;
}

async fn model(store: &Arc<MemoryStore>) -> Arc<MemoryDocuments<BrokerageModel>> {
    let model = Arc::new(MemoryDocuments::new(BrokerageModel));
    ProjectionRunner::new(store.clone(), model.clone()).catch_up().await.unwrap();
    model
}

async fn view(model: &MemoryDocuments<BrokerageModel>) -> RequestView {
    match model.get(&request_key(&request().to_string())).await.unwrap() {
        Some(BrokerageDoc::Request(view)) => *view,
        other => panic!("{other:?}"),
    }
}

async fn open_ids(model: &MemoryDocuments<BrokerageModel>) -> Vec<String> {
    match model.get(OPEN_KEY).await.unwrap() {
        Some(BrokerageDoc::Open { rows }) => rows.into_iter().map(|r| r.request_id).collect(),
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn the_market_follows_offers_awards_and_hand_backs_and_rebuilds_alike() {
    let store = Arc::new(MemoryStore::new());
    for (provider, districts) in [("VN001", ["LS6", "LS7"]), ("VN002", ["LS6", "BD7"])] {
        event(
            &store,
            BrokerageEvent::ProviderRegistered {
                ods: ods(provider),
                profile: home(provider, &districts, 20),
                cqc: cqc(CqcRating::Good),
                by: user(),
                at: at(0),
            },
        )
        .await;
    }
    event(
        &store,
        BrokerageEvent::CareRequestPosted {
            request_id: request(),
            organisation: ods("LA001"),
            nhs_number: nhs(),
            assessment_id: AssessmentId(Uuid::from_u128(9)),
            need: Need::Residential { bed_type: BedType::Standard },
            district: district("LS6"),
            terms: Terms {
                start_by: NaiveDate::from_ymd_opt(2026, 11, 6).unwrap(),
                weekly_budget: Pence(95_000),
            },
            needs: CareNeeds::default(),
            window_closes_at: at(0) + Duration::hours(24),
            by: user(),
            at: at(5),
        },
    )
    .await;
    offered(&store, 1, "VN001", 90_000).await;
    offered(&store, 2, "VN002", 85_000).await;
    let live = model(&store).await;
    let posted = view(&live).await;
    assert_eq!((posted.state, posted.offers.len()), (RequestState::Open, 2));
    assert_eq!(open_ids(&live).await, [request().to_string()]);
    let provider = live.get(&provider_key("VN002")).await.unwrap();
    assert_eq!(provider, Some(BrokerageDoc::Provider { offered: vec![request().to_string()] }));

    // Accepted: placed, the other declined, the bed taken, off the open list, finished.
    event(
        &store,
        BrokerageEvent::PlacementAgreed {
            request_id: request(),
            offer_id: offer(2),
            organisation: ods("LA001"),
            nhs_number: nhs(),
            provider: ods("VN002"),
            provider_name: Label::parse("VN002 House").unwrap(),
            care_type: CareType::Residential,
            weekly_price: Pence(85_000),
            start_date: NaiveDate::from_ymd_opt(2026, 11, 5).unwrap(),
            rank: 1,
            of: 2,
            score: 8_500,
            by: user(),
            at: at(60),
        },
    )
    .await;
    event(
        &store,
        BrokerageEvent::OfferDeclined {
            request_id: request(),
            offer_id: offer(1),
            reason: DeclineReason::AnotherOfferAccepted,
            at: at(60),
        },
    )
    .await;
    event(
        &store,
        BrokerageEvent::CapacityCommitted {
            ods: ods("VN002"),
            request_id: request(),
            beds: 1,
            hours: 0,
            at: at(60),
        },
    )
    .await;
    ProjectionRunner::new(store.clone(), live.clone()).catch_up().await.unwrap();
    let placed = view(&live).await;
    assert_eq!(placed.state, RequestState::Placed);
    assert_eq!(placed.placed_at, Some(at(60)));
    let states: Vec<OfferState> = placed.offers.iter().map(|o| o.state).collect();
    assert_eq!(states, [OfferState::Declined, OfferState::Accepted]);
    assert!(open_ids(&live).await.is_empty());
    assert_eq!(
        live.get(&market_key("LA001")).await.unwrap(),
        Some(BrokerageDoc::Market { active: Vec::new(), finished: vec![request().to_string()] })
    );
    let Some(BrokerageDoc::Providers { rows }) = live.get(PROVIDERS_KEY).await.unwrap() else {
        panic!("providers")
    };
    assert_eq!(rows.iter().map(|r| r.beds_free).collect::<Vec<_>>(), [20, 19]);

    // The vacancy map: LS6 has both homes; BD7 and LS7 one each; a suspended home drops out.
    let map = vacancy_map(&rows);
    let ls6 = &map[&("LS6".to_owned(), CareType::Residential)];
    assert_eq!((ls6.providers, ls6.beds_free, ls6.lowest_rate), (2, 39, Some(Pence(90_000))));
    assert_eq!(map[&("BD7".to_owned(), CareType::Residential)].beds_free, 19);
    event(
        &store,
        BrokerageEvent::ProviderSuspended {
            ods: ods("VN001"),
            reason: Note::parse("Inadequate").unwrap(),
            by: careflow_domain::brokerage::Party { user_id: user(), organisation: ods("LA001") },
            at: at(70),
        },
    )
    .await;
    // Handed back: a new round, open again, active again.
    event(
        &store,
        BrokerageEvent::PlacementHandedBack {
            request_id: request(),
            provider: ods("VN002"),
            nhs_number: nhs(),
            reason: Note::parse("Cannot meet needs").unwrap(),
            by: user(),
            at: at(90),
        },
    )
    .await;
    event(
        &store,
        BrokerageEvent::CareRequestReposted {
            request_id: request(),
            round: 2,
            terms: posted.terms,
            window_closes_at: at(90) + Duration::hours(24),
            by: user(),
            at: at(90),
        },
    )
    .await;
    let rule = RankingRule::new(50, 50, 0, 0).unwrap();
    event(
        &store,
        BrokerageEvent::RankingRuleSet { organisation: ods("LA001"), rule, by: user(), at: at(95) },
    )
    .await;
    ProjectionRunner::new(store.clone(), live.clone()).catch_up().await.unwrap();
    let reopened = view(&live).await;
    assert_eq!((reopened.state, reopened.round, reopened.placement.is_none()), (RequestState::Open, 2, true));
    assert_eq!(reopened.offers[1].state, OfferState::HandedBack);
    assert!(reopened.handed_back_by.contains("VN002"));
    assert_eq!(reopened.placed_at, Some(at(60)), "the first placement's time is kept for the figures");
    assert_eq!(open_ids(&live).await, [request().to_string()]);
    assert_eq!(live.get(&rule_key("LA001")).await.unwrap(), Some(BrokerageDoc::Rule(rule)));
    let Some(BrokerageDoc::Providers { rows }) = live.get(PROVIDERS_KEY).await.unwrap() else {
        panic!("providers")
    };
    assert_eq!(vacancy_map(&rows)[&("LS6".to_owned(), CareType::Residential)].providers, 1);

    // Rebuilt from zero: the same documents.
    let rebuilt = model(&store).await;
    assert_eq!(rebuilt.len(), live.len());
    for key in [
        PROVIDERS_KEY.to_owned(),
        OPEN_KEY.to_owned(),
        market_key("LA001"),
        request_key(&request().to_string()),
        rule_key("LA001"),
        provider_key("VN001"),
        provider_key("VN002"),
    ] {
        assert_eq!(rebuilt.get(&key).await.unwrap(), live.get(&key).await.unwrap(), "{key}");
    }
}
