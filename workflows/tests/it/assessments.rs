//! The trusted assessment leg through its runner: submitting an assessment that answers a task
//! completes that task (once: a restart sends nothing again); one started without a task, or
//! submitted before the workflow first started (it starts at the log's head), completes nothing.

use std::collections::BTreeSet;
use std::sync::Arc;

use careflow_domain::assessments::{AssessmentEvent, AssessmentId, Contributor, RoleName};
use careflow_domain::tasks::{TaskId, UserId};
use careflow_domain::{NhsNumber, OdsCode, TemplateId};
use careflow_eventstore::EventStore;
use careflow_eventstore::memory::MemoryStore;
use careflow_workflows::assessments::AssessmentFlows;
use careflow_workflows::clock::TokioClock;
use careflow_workflows::commands::Command;
use careflow_workflows::runner::ProcessRunner;
use tokio::sync::watch;
use uuid::Uuid;

use crate::support::{Recorder, at, record, until_received};

fn social_worker() -> Contributor {
    Contributor {
        user_id: UserId::parse("sw.whitlow").unwrap(),
        role: RoleName::parse("social_worker").unwrap(),
        organisation: OdsCode::parse("LA001").unwrap(),
    }
}

async fn assessment(store: &MemoryStore, n: u128, task: Option<u128>) -> AssessmentId {
    let assessment_id = AssessmentId(Uuid::from_u128(n));
    let event = AssessmentEvent::AssessmentStarted {
        assessment_id,
        nhs_number: (0..).find_map(|j| NhsNumber::from_first_nine(999_600_000 + j)).unwrap(),
        template_id: TemplateId::parse("reablement-trusted-assessor").unwrap(),
        template_version: 1,
        organisation: OdsCode::parse("LA001").unwrap(),
        task_id: task.map(|t| TaskId(Uuid::from_u128(t))),
        by: social_worker(),
        at: at(0),
    };
    record(store, &format!("assessment-{assessment_id}"), event.event_type(), &event).await;
    assessment_id
}

async fn submitted(store: &MemoryStore, assessment_id: AssessmentId) {
    let to: BTreeSet<OdsCode> = [OdsCode::parse("LA001-BROKERAGE").unwrap()].into();
    let event = AssessmentEvent::AssessmentSubmitted { assessment_id, to, by: social_worker(), at: at(5) };
    record(store, &format!("assessment-{assessment_id}"), event.event_type(), &event).await;
}

/// Starts the runner as careflow does: on a store with history and no checkpoint, at its head.
async fn start(
    store: &Arc<MemoryStore>,
    recorder: &Arc<Recorder>,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let runner =
        ProcessRunner::new(store.clone() as Arc<dyn EventStore>, recorder.clone(), AssessmentFlows::new());
    runner.start_at_head_if_new().await.unwrap();
    (stop, tokio::spawn(async move { runner.run(stopped).await.unwrap() }))
}

#[tokio::test(start_paused = true)]
async fn submitting_completes_the_task_the_assessment_answers_once() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(Arc::new(TokioClock::starting_at(at(0))));
    let earlier = assessment(&store, 1, Some(11)).await;
    submitted(&store, earlier).await;
    let (stop, handle) = start(&store, &recorder).await;
    let untasked = assessment(&store, 2, None).await;
    submitted(&store, untasked).await;
    let tasked = assessment(&store, 3, Some(33)).await;
    submitted(&store, tasked).await;
    until_received(&recorder, 1).await;
    stop.send_replace(true);
    handle.await.unwrap();
    let completed: Vec<(String, String)> = recorder
        .commands()
        .into_iter()
        .map(|c| match c {
            Command::CompleteTask(r) => (r.task_id, r.outcome),
            other => panic!("not a completion: {other:?}"),
        })
        .collect();
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0].0, Uuid::from_u128(33).to_string());
    assert!(
        completed[0].1.contains(&tasked.to_string()) && completed[0].1.contains("LA001-BROKERAGE"),
        "{completed:?}"
    );
    // A restart reads the same log and sends nothing again.
    let again = Recorder::new(Arc::new(TokioClock::starting_at(at(0))));
    let (stop, handle) = start(&store, &again).await;
    let last = assessment(&store, 4, Some(44)).await;
    submitted(&store, last).await;
    until_received(&again, 1).await;
    stop.send_replace(true);
    handle.await.unwrap();
    assert_eq!(again.commands().len(), 1);
}
