//! The offer windows on the one clock: a posted request's window closes when it says, for its
//! round; a re-post opens a new round with its own deadline; a request withdrawn (or placed, or
//! cancelled) has its window closed no more.

use std::sync::Arc;
use std::time::Duration;

use careflow_domain::OdsCode;
use careflow_domain::assessments::AssessmentId;
use careflow_domain::beds::Note;
use careflow_domain::brokerage::{BedType, BrokerageEvent, CareNeeds, CareRequestId, Need, Pence, Terms};
use careflow_domain::tasks::{District, UserId};
use careflow_eventstore::EventStore;
use careflow_eventstore::memory::MemoryStore;
use careflow_workflows::brokerage::OfferWindows;
use careflow_workflows::clock::{Scheduler, TokioClock, WallClock};
use careflow_workflows::commands::Command;
use tokio::sync::watch;
use uuid::Uuid;

use crate::support::{Recorder, at, record, until_received};

const REQUEST: CareRequestId = CareRequestId(Uuid::from_u128(42));

async fn event(store: &MemoryStore, event: BrokerageEvent) {
    record(store, &format!("care-request-{REQUEST}"), event.event_type(), &event).await;
}

fn terms() -> Terms {
    Terms { start_by: at(0).date_naive(), weekly_budget: Pence(90_000) }
}

#[tokio::test(start_paused = true)]
async fn each_round_closes_when_its_window_says_and_a_withdrawn_request_not_at_all() {
    let store = Arc::new(MemoryStore::new());
    let clock = TokioClock::starting_at(at(0));
    let recorder = Recorder::new(Arc::new(clock));
    let user = UserId::parse("broker.la").unwrap();
    event(
        &store,
        BrokerageEvent::CareRequestPosted {
            request_id: REQUEST,
            organisation: OdsCode::parse("LA001").unwrap(),
            nhs_number: careflow_domain::NhsNumber::from_first_nine(999_430_001).unwrap(),
            assessment_id: AssessmentId(Uuid::from_u128(1)),
            need: Need::Residential { bed_type: BedType::Standard },
            district: District::parse("LS6").unwrap(),
            terms: terms(),
            needs: CareNeeds::default(),
            window_closes_at: at(24 * 60),
            by: user.clone(),
            at: at(0),
        },
    )
    .await;
    let (stop, stopped) = watch::channel(false);
    let scheduler = Scheduler::new(
        store.clone() as Arc<dyn EventStore>,
        recorder.clone(),
        Arc::new(clock),
        vec![Arc::new(OfferWindows)],
    );
    let handle = tokio::spawn(async move { scheduler.run(stopped).await.unwrap() });

    // Just before the window closes: nothing yet.
    tokio::time::sleep(Duration::from_secs(24 * 3600 - 60)).await;
    assert!(recorder.commands().is_empty());
    until_received(&recorder, 1).await;
    let received = recorder.received.lock().unwrap().clone();
    let Command::CloseOfferWindow(first) = &received[0].command else { panic!("{:?}", received[0]) };
    assert_eq!((first.request_id.as_str(), first.round), (REQUEST.to_string().as_str(), 1));
    assert!(received[0].at >= at(24 * 60), "not before the window closes");

    // Closed (as the services answer), re-posted for 12 hours: round 2 closes then.
    event(
        &store,
        BrokerageEvent::OfferWindowClosed { request_id: REQUEST, round: 1, offers: 0, at: at(24 * 60) },
    )
    .await;
    let reposted = BrokerageEvent::CareRequestReposted {
        request_id: REQUEST,
        round: 2,
        terms: terms(),
        window_closes_at: at(36 * 60),
        by: user.clone(),
        at: at(24 * 60),
    };
    event(&store, reposted).await;
    tokio::time::sleep(Duration::from_secs(12 * 3600 - 60)).await;
    assert_eq!(recorder.commands().len(), 1);
    until_received(&recorder, 2).await;
    let received = recorder.received.lock().unwrap().clone();
    let Command::CloseOfferWindow(second) = &received[1].command else { panic!("{:?}", received[1]) };
    assert_eq!(second.round, 2);
    assert!(received[1].at >= at(36 * 60));

    // Round 3, withdrawn before it closes: never fired.
    event(
        &store,
        BrokerageEvent::CareRequestReposted {
            request_id: REQUEST,
            round: 3,
            terms: terms(),
            window_closes_at: at(60 * 60),
            by: user.clone(),
            at: at(37 * 60),
        },
    )
    .await;
    event(
        &store,
        BrokerageEvent::CareRequestWithdrawn {
            request_id: REQUEST,
            reason: Note::parse("Family reconsidering").unwrap(),
            by: user,
            at: at(38 * 60),
        },
    )
    .await;
    tokio::time::sleep(Duration::from_secs(48 * 3600)).await;
    assert_eq!(recorder.commands().len(), 2, "{:?}", recorder.commands());
    assert!(clock.now() > at(60 * 60));
    stop.send_replace(true);
    handle.await.unwrap();
}
