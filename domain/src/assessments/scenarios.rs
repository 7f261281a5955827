//! Given/when/then scenarios for the assessments context: templates, per-section versions and
//! their conflicts, answers checked against the template, section roles, sign-off, submission
//! and the receivers' decisions.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::beds::PatientName;
use crate::decider::{Refusal, RefusalKind};
use crate::patients::{Demographics, Gender, PatientEvent, PatientState, Postcode};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).single().expect("valid")
}

fn nhs() -> NhsNumber {
    (0..).find_map(|k| NhsNumber::from_first_nine(999_400_000 + k)).expect("a valid test number")
}

fn id(text: &str) -> QuestionId {
    QuestionId::parse(text).expect("id")
}

fn section(text: &str) -> SectionId {
    SectionId::parse(text).expect("section")
}

fn template_id() -> TemplateId {
    TemplateId::parse("reablement-trusted-assessor").expect("id")
}

fn assessment_id() -> AssessmentId {
    AssessmentId(Uuid::from_u128(7))
}

fn person(user: &str, role: &str, org: &str) -> Contributor {
    Contributor {
        user_id: UserId::parse(user).expect("user"),
        role: RoleName::parse(role).expect("role"),
        organisation: OdsCode::parse(org).expect("ods"),
    }
}

fn nurse() -> Contributor {
    person("nurse.okafor", "ward_nurse", "RXA")
}

fn social_worker() -> Contributor {
    person("sw.whitlow", "social_worker", "LA001")
}

fn therapist() -> Contributor {
    person("ot.fenwick", "therapist", "RXA")
}

fn shipped() -> TemplateContent {
    serde_json::from_str(template::SHIPPED[0].1).expect("the shipped template")
}

fn registered() -> PatientState {
    let mut patient = PatientState::default();
    patient.evolve(&PatientEvent::PatientRegistered {
        nhs_number: nhs(),
        demographics: Demographics {
            name: PatientName::parse("Horace", "Gorringe").expect("name"),
            date_of_birth: NaiveDate::from_ymd_opt(1938, 6, 1),
            gender: Gender::Male,
            postcode: Some(Postcode::parse("BD7 1DP").expect("postcode")),
            gp_practice: None,
        },
        at: at(),
    });
    patient
}

/// The streams of one scenario, folded from what happened.
struct World {
    template: TemplateState,
    assessment: AssessmentState,
    patient: PatientState,
}

impl World {
    fn new() -> Self {
        let mut world = Self {
            template: TemplateState::default(),
            assessment: AssessmentState::default(),
            patient: registered(),
        };
        world.ok(&AssessmentCommand::PublishTemplate {
            template_id: template_id(),
            content: shipped(),
            by: person("admin", "admin", "RXA"),
        });
        world
    }

    fn started() -> Self {
        let mut world = Self::new();
        world.ok(&start());
        world
    }

    fn when(&self, command: &AssessmentCommand) -> Result<Vec<AssessmentEvent>, AssessmentError> {
        decide(&self.template, &self.assessment, &self.patient, command, at())
    }

    /// Decides and folds; the command must be carried out.
    fn ok(&mut self, command: &AssessmentCommand) -> Vec<AssessmentEvent> {
        let events = self.when(command).unwrap_or_else(|e| panic!("{command:?}: {e}"));
        for event in &events {
            self.template.evolve(event);
            self.assessment.evolve(event);
        }
        events
    }

    fn assessment(&self) -> &Assessment {
        self.assessment.assessment.as_ref().expect("started")
    }
}

fn start() -> AssessmentCommand {
    AssessmentCommand::Start {
        assessment_id: assessment_id(),
        nhs_number: nhs(),
        template_id: template_id(),
        template_version: None,
        task_id: None,
        by: social_worker(),
    }
}

fn save(section_id: &str, base: u32, answers: Answers, by: Contributor) -> AssessmentCommand {
    AssessmentCommand::SaveSection {
        assessment_id: assessment_id(),
        section_id: section(section_id),
        base_version: base,
        answers,
        by,
    }
}

fn sign(section_id: &str, version: u32, by: Contributor) -> AssessmentCommand {
    AssessmentCommand::SignOffSection {
        assessment_id: assessment_id(),
        section_id: section(section_id),
        version,
        by,
    }
}

fn frailty(score: u8) -> Answers {
    [(id("clinical-frailty-scale"), Answer::Score(score))].into()
}

fn continence() -> Answers {
    [
        (id("bladder"), Answer::Choice(id("continent"))),
        (id("bowel"), Answer::Choice(id("continent"))),
        (id("continence-products"), Answer::YesNo(false)),
    ]
    .into()
}

/// Answers for every required question of `section`, of the right kind.
fn complete(template: &TemplateContent, section_id: &SectionId) -> Answers {
    let section = template.section(section_id).expect("section");
    section
        .questions
        .iter()
        .map(|q| {
            let answer = match &q.kind {
                QuestionKind::Text { .. } => Answer::Text("Seen on the ward with her daughter".into()),
                QuestionKind::Choice { options } => Answer::Choice(options[0].value.clone()),
                QuestionKind::MultiChoice { options } => Answer::Choices([options[0].value.clone()].into()),
                QuestionKind::Number { min, .. } => Answer::Number(*min),
                QuestionKind::Date => Answer::Date(NaiveDate::from_ymd_opt(2026, 12, 7).expect("date")),
                QuestionKind::YesNo => Answer::YesNo(true),
                QuestionKind::Score { max, .. } => Answer::Score(*max - 4),
            };
            (q.id.clone(), answer)
        })
        .collect()
}

#[test]
fn templates_are_versioned_and_an_assessment_is_pinned_to_the_version_it_started_from() {
    let mut world = World::new();
    assert_eq!(world.template.latest().map(|(v, _)| v), Some(1));
    // The same content again is a retry, not a new version.
    let again = AssessmentCommand::PublishTemplate {
        template_id: template_id(),
        content: shipped(),
        by: person("admin", "admin", "RXA"),
    };
    assert_eq!(world.when(&again), Ok(Vec::new()));
    world.ok(&start());
    let mut changed = shipped();
    changed.sections.retain(|s| s.id.as_str() != "continence");
    world.ok(&AssessmentCommand::PublishTemplate {
        template_id: template_id(),
        content: changed,
        by: person("admin", "admin", "RXA"),
    });
    assert_eq!(world.template.latest().map(|(v, _)| v), Some(2));
    // Version 1's continence section still applies to the assessment started on it.
    assert_eq!(world.assessment().template_version, 1);
    assert!(world.when(&save("continence", 0, continence(), nurse())).is_ok());
}

#[test]
fn an_unusable_template_names_every_problem_as_a_field() {
    let world = World::new();
    let mut content = shipped();
    content.sections[0].signers = BTreeSet::new();
    let error = world
        .when(&AssessmentCommand::PublishTemplate {
            template_id: template_id(),
            content,
            by: person("admin", "admin", "RXA"),
        })
        .unwrap_err();
    assert_eq!(
        error.violations(),
        vec![(
            "content_json.sections[0].signers".to_owned(),
            "name at least one role that may sign it off".to_owned()
        )]
    );
}

#[test]
fn an_assessment_starts_only_for_a_registered_living_patient_from_a_template_that_exists() {
    let mut world = World::new();
    world.patient = PatientState::default();
    assert!(matches!(world.when(&start()), Err(AssessmentError::PatientNotRegistered { .. })));
    let world = World::new();
    let AssessmentCommand::Start { assessment_id: new_id, nhs_number, task_id, by, .. } = start() else {
        unreachable!()
    };
    let missing = AssessmentCommand::Start {
        assessment_id: new_id,
        nhs_number,
        template_id: template_id(),
        template_version: Some(9),
        task_id,
        by,
    };
    assert_eq!(
        world.when(&missing),
        Err(AssessmentError::TemplateNotFound { template_id: template_id(), version: Some(9) })
    );
    let events = World::new().when(&start()).expect("started");
    assert!(
        matches!(&events[..], [AssessmentEvent::AssessmentStarted { template_version: 1, organisation, .. }] if organisation.as_str() == "LA001")
    );
    let mut world = World::started();
    assert_eq!(
        world.when(&start()),
        Err(AssessmentError::AssessmentExists { assessment_id: assessment_id() })
    );
    world.ok(&save("frailty", 0, frailty(4), nurse()));
}

#[test]
fn two_people_saving_different_sections_both_succeed_on_the_same_state() {
    let world = World::started();
    // Both decided on the same state (as two concurrent requests are; the losing append is
    // decided again on the winner's state and still fits, since its section did not move).
    let nurse_saves = world.when(&save("continence", 0, continence(), nurse())).expect("nurse");
    let worker_saves = world.when(&save("frailty", 0, frailty(7), therapist())).expect("therapist");
    let mut world = world;
    for event in nurse_saves.iter() {
        world.assessment.evolve(event);
    }
    let again =
        world.when(&save("frailty", 0, frailty(7), therapist())).expect("still fits after the nurse's save");
    assert_eq!(again, worker_saves);
}

#[test]
fn the_second_of_two_saves_of_one_section_is_a_conflict_naming_who_changed_it() {
    let mut world = World::started();
    world.ok(&save("frailty", 0, frailty(5), nurse()));
    let error = world.when(&save("frailty", 0, frailty(6), therapist())).unwrap_err();
    assert_eq!(
        error,
        AssessmentError::SectionConflict {
            section_id: section("frailty"),
            base_version: 0,
            current_version: 1,
            saved_by: nurse().user_id,
            saved_at: at(),
        }
    );
    assert_eq!(error.kind(), RefusalKind::Precondition);
    assert!(error.to_string().contains("nurse.okafor"), "{error}");
    // Saving on top of what is there now succeeds.
    let events = world.ok(&save("frailty", 1, frailty(6), therapist()));
    assert!(matches!(&events[..], [AssessmentEvent::SectionSaved { version: 2, .. }]));
}

#[test]
fn answers_are_checked_against_the_template_each_named_by_its_question() {
    let world = World::started();
    let answers: Answers = [
        (id("clinical-frailty-scale"), Answer::Score(12)),
        (id("frailty-notes"), Answer::YesNo(true)),
        (id("shoe-size"), Answer::Number(9.0)),
    ]
    .into();
    let error = world.when(&save("frailty", 0, answers, nurse())).unwrap_err();
    assert_eq!(
        error.violations(),
        vec![
            ("answers.clinical-frailty-scale".to_owned(), "must be from 1 to 9".to_owned()),
            ("answers.frailty-notes".to_owned(), "takes text".to_owned()),
            ("answers.shoe-size".to_owned(), "is not a question of section frailty".to_owned()),
        ]
    );
    // A base version that never was is named too.
    let error = world.when(&save("frailty", 3, frailty(5), nurse())).unwrap_err();
    assert_eq!(error.violations()[0].0, "base_version");
    assert!(matches!(
        world.when(&save("no-such", 0, frailty(5), nurse())),
        Err(AssessmentError::SectionNotFound { .. })
    ));
}

#[test]
fn only_a_sections_roles_edit_and_sign_it() {
    let mut world = World::started();
    let error = world.when(&save("continence", 0, continence(), social_worker())).unwrap_err();
    assert_eq!(error.kind(), RefusalKind::Forbidden);
    assert_eq!(error.to_string(), "role social_worker may not edit section continence");
    world.ok(&save(
        "care-needs-summary",
        0,
        complete(&shipped(), &section("care-needs-summary")),
        social_worker(),
    ));
    let error = world.when(&sign("care-needs-summary", 1, nurse())).unwrap_err();
    assert_eq!(error.to_string(), "role ward_nurse may not sign off section care-needs-summary");
}

#[test]
fn a_sign_off_needs_the_required_answers_and_the_current_version_and_a_later_save_lapses_it() {
    let mut world = World::started();
    world.ok(&save("continence", 0, [(id("bladder"), Answer::Choice(id("continent")))].into(), nurse()));
    let error = world.when(&sign("continence", 1, nurse())).unwrap_err();
    assert_eq!(
        error.to_string(),
        "section continence cannot be signed off: bowel, continence-products unanswered"
    );
    world.ok(&save("continence", 1, continence(), nurse()));
    assert!(matches!(
        world.when(&sign("continence", 1, nurse())),
        Err(AssessmentError::SignOffStale { current_version: 2, .. })
    ));
    world.ok(&sign("continence", 2, nurse()));
    assert_eq!(world.when(&sign("continence", 2, nurse())), Ok(Vec::new()), "signed already");
    let mut changed = continence();
    changed.insert(id("continence-products"), Answer::YesNo(true));
    world.ok(&save("continence", 2, changed, nurse()));
    assert_eq!(
        world.assessment().sections[&section("continence")].sign_off,
        None,
        "a new version needs a new sign-off"
    );
}

/// Every required section saved and signed off by someone who may.
fn completed() -> World {
    let mut world = World::started();
    let template = shipped();
    for s in template.sections.iter().filter(|s| s.required) {
        let editor = [nurse(), therapist(), social_worker()]
            .into_iter()
            .find(|p| s.editors.contains(&p.role) && s.signers.contains(&p.role))
            .or_else(|| {
                [nurse(), therapist(), social_worker()].into_iter().find(|p| s.editors.contains(&p.role))
            })
            .expect("an editor");
        world.ok(&save(s.id.as_str(), 0, complete(&template, &s.id), editor.clone()));
        let signer = [nurse(), therapist(), social_worker()]
            .into_iter()
            .find(|p| s.signers.contains(&p.role))
            .expect("a signer");
        world.ok(&sign(s.id.as_str(), 1, signer));
    }
    world
}

fn submit(to: &[&str]) -> AssessmentCommand {
    AssessmentCommand::Submit {
        assessment_id: assessment_id(),
        to: to.iter().map(|o| OdsCode::parse(o).expect("ods")).collect(),
        by: social_worker(),
    }
}

#[test]
fn submitting_needs_every_required_section_signed_off_and_someone_to_receive_it() {
    let mut world = World::started();
    world.ok(&save("frailty", 0, frailty(7), nurse()));
    world.ok(&sign("frailty", 1, nurse()));
    let AssessmentError::NotSignedOff { sections } = world.when(&submit(&["LA002"])).unwrap_err() else {
        panic!()
    };
    assert!(
        sections.contains(&"continence".to_owned()) && !sections.contains(&"frailty".to_owned()),
        "{sections:?}"
    );
    let mut world = completed();
    assert_eq!(world.when(&submit(&[])), Err(AssessmentError::NoReceivers));
    assert!(
        matches!(world.when(&submit(&["LA001"])), Err(AssessmentError::SelfReceiver { .. })),
        "LA001 assessed"
    );
    world.ok(&submit(&["LA002", "VNH01"]));
    assert_eq!(world.assessment().status, AssessmentStatus::Submitted);
    assert_eq!(
        world.when(&save("frailty", 1, frailty(8), nurse())),
        Err(AssessmentError::InvalidState { status: AssessmentStatus::Submitted, action: "save a section" })
    );
}

#[test]
fn each_receiver_accepts_or_returns_it_and_a_return_makes_it_editable_again() {
    let mut world = completed();
    world.ok(&submit(&["LA002", "VNH01"]));
    let stranger = person("someone", "care_provider", "ZZZ99");
    let accept = |by: Contributor| AssessmentCommand::Accept { assessment_id: assessment_id(), by };
    assert_eq!(world.when(&accept(stranger)).unwrap_err().kind(), RefusalKind::Forbidden);
    world.ok(&accept(person("broker.one", "broker", "LA002")));
    assert_eq!(world.assessment().status, AssessmentStatus::Submitted, "one receiver of two");
    assert_eq!(world.when(&accept(person("broker.one", "broker", "LA002"))), Ok(Vec::new()));
    let provider = person("manager", "care_provider", "VNH01");
    let back = AssessmentCommand::Return {
        assessment_id: assessment_id(),
        reasons: Note::parse("Moving and handling needs two carers, not one: please reassess transfers")
            .expect("note"),
        by: provider.clone(),
    };
    world.ok(&back);
    assert_eq!(world.assessment().status, AssessmentStatus::Returned);
    assert!(world.assessment().accepted_by.is_empty());
    // Corrected and submitted again; both accept this time.
    let transfers = shipped();
    let mut answers = complete(&transfers, &section("mobility-and-transfers"));
    answers.insert(id("transfers"), Answer::Choice(id("help-of-two")));
    world.ok(&save("mobility-and-transfers", 1, answers, therapist()));
    world.ok(&sign("mobility-and-transfers", 2, therapist()));
    world.ok(&submit(&["LA002", "VNH01"]));
    world.ok(&accept(person("broker.one", "broker", "LA002")));
    world.ok(&accept(provider));
    assert_eq!(world.assessment().status, AssessmentStatus::Accepted);
}

#[test]
fn the_assessing_organisation_reopens_a_submitted_assessment_with_a_reason() {
    let mut world = completed();
    let reopen = AssessmentCommand::Reopen {
        assessment_id: assessment_id(),
        reason: Note::parse("The person's daughter has moved in: living situation changed").expect("note"),
        by: social_worker(),
    };
    assert!(matches!(
        world.when(&reopen),
        Err(AssessmentError::InvalidState { status: AssessmentStatus::InProgress, .. })
    ));
    world.ok(&submit(&["VNH01"]));
    world.ok(&reopen);
    assert_eq!(world.assessment().status, AssessmentStatus::InProgress);
    let later = at() + Duration::minutes(5);
    assert!(
        decide(
            &world.template,
            &world.assessment,
            &world.patient,
            &save("frailty", 1, frailty(6), nurse()),
            later
        )
        .is_ok()
    );
}
