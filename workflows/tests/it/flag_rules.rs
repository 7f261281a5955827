//! Flag rules through their runner: a section holding a score a rule watches, once signed off,
//! sends `ApplyFlagRule` for the assessment's patient, once per rule and sign-off (a restart
//! sends nothing again); a draft, a stale sign-off, a section without the score, a disabled
//! rule, or history before the workflow started sends nothing.

use std::sync::Arc;

use careflow_domain::assessments::{Answer, AssessmentEvent, AssessmentId, Contributor, RoleName};
use careflow_domain::flags::{FlagRule, FlagRuleEvent, rules::frailty_rule};
use careflow_domain::tasks::UserId;
use careflow_domain::{NhsNumber, OdsCode, QuestionId, RuleId, SectionId, TemplateId};
use careflow_eventstore::EventStore;
use careflow_eventstore::memory::MemoryStore;
use careflow_workflows::clock::TokioClock;
use careflow_workflows::commands::Command;
use careflow_workflows::flag_rules::FlagRuleFlows;
use careflow_workflows::runner::ProcessRunner;
use tokio::sync::watch;
use uuid::Uuid;

use crate::support::{Recorder, at, record, until_received};

fn nhs() -> NhsNumber {
    (0..).find_map(|j| NhsNumber::from_first_nine(999_500_000 + j)).unwrap()
}

fn nurse() -> Contributor {
    Contributor {
        user_id: UserId::parse("nurse.okafor").unwrap(),
        role: RoleName::parse("ward_nurse").unwrap(),
        organisation: OdsCode::parse("RXA").unwrap(),
    }
}

async fn rule(store: &MemoryStore, rule_id: &RuleId, rule: FlagRule, version: u32) {
    let event =
        FlagRuleEvent::FlagRuleSet { rule_id: rule_id.clone(), version, rule, organisation: None, at: at(0) };
    record(store, &format!("flagrule-{rule_id}"), "FlagRuleSet", &event).await;
}

async fn started(store: &MemoryStore, n: u128) -> AssessmentId {
    let assessment_id = AssessmentId(Uuid::from_u128(n));
    let event = AssessmentEvent::AssessmentStarted {
        assessment_id,
        nhs_number: nhs(),
        template_id: TemplateId::parse("reablement-trusted-assessor").unwrap(),
        template_version: 1,
        organisation: OdsCode::parse("LA001").unwrap(),
        task_id: None,
        by: nurse(),
        at: at(1),
    };
    record(store, &format!("assessment-{assessment_id}"), event.event_type(), &event).await;
    assessment_id
}

async fn saved(
    store: &MemoryStore,
    assessment_id: AssessmentId,
    section: &str,
    version: u32,
    answers: &[(&str, Answer)],
) {
    let event = AssessmentEvent::SectionSaved {
        assessment_id,
        section_id: SectionId::parse(section).unwrap(),
        version,
        answers: answers.iter().map(|(q, a)| (QuestionId::parse(q).unwrap(), a.clone())).collect(),
        by: nurse(),
        at: at(2),
    };
    record(store, &format!("assessment-{assessment_id}"), event.event_type(), &event).await;
}

async fn signed(store: &MemoryStore, assessment_id: AssessmentId, section: &str, version: u32) {
    let event = AssessmentEvent::SectionSignedOff {
        assessment_id,
        section_id: SectionId::parse(section).unwrap(),
        version,
        by: nurse(),
        at: at(3),
    };
    record(store, &format!("assessment-{assessment_id}"), event.event_type(), &event).await;
}

fn start(
    store: &Arc<MemoryStore>,
    recorder: &Arc<Recorder>,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let runner =
        ProcessRunner::new(store.clone() as Arc<dyn EventStore>, recorder.clone(), FlagRuleFlows::new());
    (stop, tokio::spawn(async move { runner.run(stopped).await.unwrap() }))
}

fn applied(command: &Command) -> (&str, &str, u32) {
    match command {
        Command::ApplyFlagRule(r) => (r.nhs_number.as_str(), r.rule_id.as_str(), r.score),
        other => panic!("not a flag rule: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_watched_score_applies_each_rule_once_and_a_restart_sends_nothing_again() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(Arc::new(TokioClock::starting_at(at(0))));
    let (frailty_id, frailty) = frailty_rule().unwrap();
    rule(&store, &frailty_id, frailty.clone(), 1).await;
    // A second rule on the same question, switched off: it sends nothing.
    let off = RuleId::parse("cfs-off").unwrap();
    rule(&store, &off, FlagRule { enabled: false, ..frailty }, 1).await;
    let assessment = started(&store, 1).await;
    let (stop, handle) = start(&store, &recorder);

    saved(
        &store,
        assessment,
        "continence",
        1,
        &[("bladder", Answer::Choice(QuestionId::parse("continent").unwrap()))],
    )
    .await;
    signed(&store, assessment, "continence", 1).await;
    // A draft reaches nobody; a sign-off of an older version neither.
    saved(&store, assessment, "frailty", 1, &[("clinical-frailty-scale", Answer::Score(9))]).await;
    saved(&store, assessment, "frailty", 2, &[("clinical-frailty-scale", Answer::Score(7))]).await;
    signed(&store, assessment, "frailty", 1).await;
    signed(&store, assessment, "frailty", 2).await;
    until_received(&recorder, 1).await;
    saved(&store, assessment, "frailty", 3, &[("clinical-frailty-scale", Answer::Score(4))]).await;
    signed(&store, assessment, "frailty", 3).await;
    until_received(&recorder, 2).await;
    stop.send_replace(true);
    handle.await.unwrap();
    let nhs = nhs().to_string();
    let sent: Vec<_> = recorder.commands();
    let sent: Vec<_> = sent.iter().map(applied).collect();
    // Every signed-off watched score goes to the flags context, which decides (4 is below the
    // threshold); the draft 9 and the stale sign-off of version 1 send nothing.
    assert_eq!(sent, [(nhs.as_str(), "cfs-frailty", 7), (nhs.as_str(), "cfs-frailty", 4)]);

    // A restart reads the same log: nothing new to send.
    let again = Recorder::new(Arc::new(TokioClock::starting_at(at(0))));
    let (stop, handle) = start(&store, &again);
    saved(&store, assessment, "frailty", 4, &[("clinical-frailty-scale", Answer::Score(8))]).await;
    signed(&store, assessment, "frailty", 4).await;
    until_received(&again, 1).await;
    stop.send_replace(true);
    handle.await.unwrap();
    let sent: Vec<_> = again.commands();
    assert_eq!(sent.iter().map(applied).collect::<Vec<_>>(), [(nhs.as_str(), "cfs-frailty", 8)]);
}

#[tokio::test(start_paused = true)]
async fn a_rule_set_after_a_sign_off_does_not_reach_back() {
    let store = Arc::new(MemoryStore::new());
    let recorder = Recorder::new(Arc::new(TokioClock::starting_at(at(0))));
    let assessment = started(&store, 2).await;
    let (stop, handle) = start(&store, &recorder);
    saved(&store, assessment, "frailty", 1, &[("clinical-frailty-scale", Answer::Score(7))]).await;
    signed(&store, assessment, "frailty", 1).await;
    let (frailty_id, frailty) = frailty_rule().unwrap();
    rule(&store, &frailty_id, frailty, 1).await;
    saved(&store, assessment, "frailty", 2, &[("clinical-frailty-scale", Answer::Score(9))]).await;
    signed(&store, assessment, "frailty", 2).await;
    until_received(&recorder, 1).await;
    stop.send_replace(true);
    handle.await.unwrap();
    let sent = recorder.commands();
    assert_eq!(
        sent.iter().map(applied).map(|(_, _, s)| s).collect::<Vec<_>>(),
        [9],
        "only the save after the rule"
    );
}
