//! The assessment read models: an assessment as a whole as sections are saved and signed, a
//! patient's assessments, the assessments in progress per team (following the task's hand-off)
//! and per organisation, the templates; rebuilt from zero alike.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::BTreeSet;
use std::sync::Arc;

use careflow_domain::assessments::{
    Answer, Answers, AssessmentEvent, AssessmentId, AssessmentStatus, Contributor, RoleName, TemplateContent,
    template,
};
use careflow_domain::beds::{Label, Note};
use careflow_domain::tasks::{Priority, RaisedBy, TaskEvent, TaskId, TaskKind, UserId};
use careflow_domain::{OdsCode, QuestionId, SectionId, TeamId, TemplateId};
use careflow_eventstore::memory::MemoryStore;
use careflow_projections::ProjectionRunner;
use careflow_projections::assessments::{
    AssessmentDoc, AssessmentModel, AssessmentRow, AssessmentView, TEMPLATES_KEY, assessment_key,
    history_key, organisation_key, patient_key, team_key, template_key,
};
use careflow_projections::documents::{DocumentReader, MemoryDocuments};
use uuid::Uuid;

use crate::helpers::{at, nhs, record};

const TEMPLATE: &str = "reablement-trusted-assessor";

async fn assessment_event(store: &MemoryStore, event: AssessmentEvent) {
    let stream = match &event {
        AssessmentEvent::TemplatePublished { template_id, .. } => format!("template-{template_id}"),
        other => match other {
            AssessmentEvent::AssessmentStarted { assessment_id, .. }
            | AssessmentEvent::SectionSaved { assessment_id, .. }
            | AssessmentEvent::SectionSignedOff { assessment_id, .. }
            | AssessmentEvent::AssessmentSubmitted { assessment_id, .. }
            | AssessmentEvent::AssessmentReopened { assessment_id, .. }
            | AssessmentEvent::AssessmentAccepted { assessment_id, .. }
            | AssessmentEvent::AssessmentReturned { assessment_id, .. } => {
                format!("assessment-{assessment_id}")
            }
            AssessmentEvent::TemplatePublished { .. } => unreachable!(),
        },
    };
    record(store, stream, event.event_type(), &event).await;
}

async fn task_event(store: &MemoryStore, task: TaskId, event: TaskEvent) {
    record(store, format!("task-{task}"), event.event_type(), &event).await;
}

fn who(user: &str, role: &str, org: &str) -> Contributor {
    Contributor {
        user_id: UserId::parse(user).unwrap(),
        role: RoleName::parse(role).unwrap(),
        organisation: OdsCode::parse(org).unwrap(),
    }
}

fn nurse() -> Contributor {
    who("grace.okafor", "ward_nurse", "RXA")
}

fn social_worker() -> Contributor {
    who("sam.whitlow", "social_worker", "LA001")
}

fn content() -> TemplateContent {
    let (_, json) = template::SHIPPED.iter().find(|(id, _)| *id == TEMPLATE).unwrap();
    serde_json::from_str(json).unwrap()
}

fn section(id: &str) -> SectionId {
    SectionId::parse(id).unwrap()
}

fn answers(pairs: &[(&str, Answer)]) -> Answers {
    pairs.iter().map(|(q, a)| (QuestionId::parse(q).unwrap(), a.clone())).collect()
}

async fn model(store: &Arc<MemoryStore>) -> Arc<MemoryDocuments<AssessmentModel>> {
    let model = Arc::new(MemoryDocuments::new(AssessmentModel));
    catch_up(store, &model).await;
    model
}

async fn catch_up(store: &Arc<MemoryStore>, model: &Arc<MemoryDocuments<AssessmentModel>>) {
    ProjectionRunner::new(store.clone(), model.clone()).catch_up().await.unwrap();
}

async fn view(model: &MemoryDocuments<AssessmentModel>, id: AssessmentId) -> AssessmentView {
    match model.get(&assessment_key(&id.to_string())).await.unwrap() {
        Some(AssessmentDoc::Assessment(view)) => *view,
        other => panic!("not an assessment: {other:?}"),
    }
}

async fn rows(model: &MemoryDocuments<AssessmentModel>, key: &str) -> Vec<AssessmentRow> {
    match model.get(key).await.unwrap() {
        Some(AssessmentDoc::List { rows }) => rows,
        None => Vec::new(),
        other => panic!("not a list: {other:?}"),
    }
}

#[tokio::test]
async fn an_assessment_is_shown_whole_and_listed_per_patient_team_and_organisation() {
    let store = Arc::new(MemoryStore::new());
    let content = content();
    let required = content.sections.iter().filter(|s| s.required).count() as u32;
    assessment_event(
        &store,
        AssessmentEvent::TemplatePublished {
            template_id: TemplateId::parse(TEMPLATE).unwrap(),
            version: 1,
            content: content.clone(),
            by: who("admin.rxa", "admin", "RXA"),
            at: at(0),
        },
    )
    .await;
    let task = TaskId(Uuid::from_u128(7));
    task_event(
        &store,
        task,
        TaskEvent::TaskCreated {
            task_id: task,
            nhs_number: Some(nhs()),
            title: Label::parse("Complete a trusted assessment").unwrap(),
            kind: TaskKind::TrustedAssessment,
            team_id: TeamId::parse("1.la001-hswt").unwrap(),
            organisation: OdsCode::parse("LA001").unwrap(),
            priority: Priority::Urgent,
            due: None,
            links: Vec::new(),
            note: None,
            raised_by: RaisedBy::Rule { rule: careflow_domain::RuleId::parse("d2a").unwrap(), version: 1 },
            at: at(1),
        },
    )
    .await;
    let id = AssessmentId(Uuid::from_u128(42));
    assessment_event(
        &store,
        AssessmentEvent::AssessmentStarted {
            assessment_id: id,
            nhs_number: nhs(),
            template_id: TemplateId::parse(TEMPLATE).unwrap(),
            template_version: 1,
            organisation: OdsCode::parse("LA001").unwrap(),
            task_id: Some(task),
            by: social_worker(),
            at: at(2),
        },
    )
    .await;
    let live = model(&store).await;

    let started = view(&live, id).await;
    assert_eq!(started.title, content.title.to_string(), "titled from the pinned template");
    assert_eq!(started.team_id.as_deref(), Some("1.la001-hswt"), "the task's team");
    assert_eq!(started.required.len() as u32, required);
    let listed = rows(&live, &team_key("1.la001-hswt")).await;
    assert_eq!(listed.len(), 1);
    assert_eq!((listed[0].required_signed, listed[0].required), (0, required));
    assert_eq!(rows(&live, &organisation_key("LA001")).await.len(), 1);
    assert_eq!(rows(&live, &patient_key(&nhs().to_string())).await.len(), 1);
    match live.get(TEMPLATES_KEY).await.unwrap() {
        Some(AssessmentDoc::Templates { rows }) => {
            assert_eq!(rows.len(), 1);
            assert_eq!((rows[0].version, rows[0].organisation.as_str()), (1, "RXA"));
        }
        other => panic!("no templates: {other:?}"),
    }
    assert!(matches!(live.get(&template_key(TEMPLATE, 1)).await.unwrap(), Some(AssessmentDoc::Template(_))));

    // Two people, two sections; then a sign-off, and a second save that lapses it.
    let frailty = answers(&[("clinical-frailty-scale", Answer::Score(6))]);
    for (section_id, version, answers, by, minute) in [
        ("frailty", 1, frailty.clone(), nurse(), 3),
        (
            "goals-and-wishes",
            1,
            answers(&[("own-goals", Answer::Text("Home by Friday".into()))]),
            social_worker(),
            3,
        ),
    ] {
        assessment_event(
            &store,
            AssessmentEvent::SectionSaved {
                assessment_id: id,
                section_id: section(section_id),
                version,
                answers,
                by,
                at: at(minute),
            },
        )
        .await;
    }
    assessment_event(
        &store,
        AssessmentEvent::SectionSignedOff {
            assessment_id: id,
            section_id: section("frailty"),
            version: 1,
            by: nurse(),
            at: at(4),
        },
    )
    .await;
    catch_up(&store, &live).await;
    let saved = view(&live, id).await;
    assert_eq!(saved.sections.len(), 2);
    let frailty_view = &saved.sections["frailty"];
    assert_eq!((frailty_view.version, &frailty_view.answers), (1, &frailty));
    assert_eq!(frailty_view.saved_by.user_id.as_str(), "grace.okafor");
    assert!(saved.signed("frailty") && !saved.signed("goals-and-wishes"));
    assert_eq!(rows(&live, &team_key("1.la001-hswt")).await[0].required_signed, 1);
    assert_eq!(saved.updated_at, at(4));
    let Some(AssessmentDoc::History { steps }) = live.get(&history_key(&id.to_string())).await.unwrap()
    else {
        panic!("no history")
    };
    let steps: Vec<(&str, Option<&str>)> =
        steps.iter().map(|s| (s.event_type.as_str(), s.section_id.as_deref())).collect();
    assert_eq!(
        steps,
        [
            ("AssessmentStarted", None),
            ("SectionSaved", Some("frailty")),
            ("SectionSaved", Some("goals-and-wishes")),
            ("SectionSignedOff", Some("frailty"))
        ]
    );
    assessment_event(
        &store,
        AssessmentEvent::SectionSaved {
            assessment_id: id,
            section_id: section("frailty"),
            version: 2,
            answers: answers(&[("clinical-frailty-scale", Answer::Score(7))]),
            by: who("tom.birchall", "therapist", "RXA"),
            at: at(5),
        },
    )
    .await;
    catch_up(&store, &live).await;
    let resaved = view(&live, id).await;
    assert!(!resaved.signed("frailty"), "a save after the sign-off needs a new one");
    assert_eq!(resaved.sections["frailty"].version, 2);

    // The task is handed to another team: the assessment follows it.
    task_event(
        &store,
        task,
        TaskEvent::TaskHandOffAccepted {
            task_id: task,
            from_team: TeamId::parse("1.la001-hswt").unwrap(),
            team_id: TeamId::parse("1.la001-reablement").unwrap(),
            organisation: OdsCode::parse("LA001").unwrap(),
            by: UserId::parse("mo.hartigan").unwrap(),
            at: at(6),
        },
    )
    .await;
    catch_up(&store, &live).await;
    assert!(rows(&live, &team_key("1.la001-hswt")).await.is_empty(), "gone from the old team");
    assert_eq!(rows(&live, &team_key("1.la001-reablement")).await.len(), 1);

    // Submitted, returned, submitted again and accepted by every receiver: no longer in
    // progress, still the patient's.
    let to = BTreeSet::from([OdsCode::parse("LA001").unwrap(), OdsCode::parse("VN123").unwrap()]);
    let events = [
        AssessmentEvent::AssessmentSubmitted {
            assessment_id: id,
            to: to.clone(),
            by: social_worker(),
            at: at(7),
        },
        AssessmentEvent::AssessmentReturned {
            assessment_id: id,
            organisation: OdsCode::parse("VN123").unwrap(),
            reasons: Note::parse("Say how many carers for transfers").unwrap(),
            by: who("provider.vn123", "care_provider", "VN123"),
            at: at(8),
        },
    ];
    for event in events {
        assessment_event(&store, event).await;
    }
    catch_up(&store, &live).await;
    let returned = view(&live, id).await;
    assert_eq!(returned.status, AssessmentStatus::Returned);
    assert_eq!(returned.returned.as_ref().map(|r| r.organisation.as_str()), Some("VN123"));
    let events = [
        AssessmentEvent::AssessmentSubmitted { assessment_id: id, to, by: social_worker(), at: at(9) },
        AssessmentEvent::AssessmentAccepted {
            assessment_id: id,
            organisation: OdsCode::parse("LA001").unwrap(),
            by: social_worker(),
            at: at(10),
        },
    ];
    for event in events {
        assessment_event(&store, event).await;
    }
    catch_up(&store, &live).await;
    let half = view(&live, id).await;
    assert_eq!(half.status, AssessmentStatus::Submitted, "one receiver of two accepted");
    assert!(half.returned.is_none(), "a new submission clears the return");
    assessment_event(
        &store,
        AssessmentEvent::AssessmentAccepted {
            assessment_id: id,
            organisation: OdsCode::parse("VN123").unwrap(),
            by: who("provider.vn123", "care_provider", "VN123"),
            at: at(11),
        },
    )
    .await;
    catch_up(&store, &live).await;
    assert_eq!(view(&live, id).await.status, AssessmentStatus::Accepted);
    assert!(rows(&live, &team_key("1.la001-reablement")).await.is_empty());
    assert!(rows(&live, &organisation_key("LA001")).await.is_empty());
    let theirs = rows(&live, &patient_key(&nhs().to_string())).await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].status, AssessmentStatus::Accepted);

    // Rebuilt from zero: the same documents.
    let rebuilt = model(&store).await;
    assert_eq!(rebuilt.len(), live.len());
    for key in [
        assessment_key(&id.to_string()),
        history_key(&id.to_string()),
        patient_key(&nhs().to_string()),
        team_key("1.la001-hswt"),
        team_key("1.la001-reablement"),
        organisation_key("LA001"),
        format!("task:{task}"),
        TEMPLATES_KEY.to_owned(),
        template_key(TEMPLATE, 1),
    ] {
        assert_eq!(rebuilt.get(&key).await.unwrap(), live.get(&key).await.unwrap(), "{key}");
    }
}
