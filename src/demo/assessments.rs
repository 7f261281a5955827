//! The demo's assessment templates and flag rule: the templates careflow ships (the reablement
//! trusted assessment, the care home trusted assessment) and the frailty rule (a Clinical
//! Frailty Scale answer of 6 or more raises the frailty flag); and trusted assessments of
//! three patients on the Acute Medical Unit, started by Airedale Council's social worker
//! (Sam Whitlow): one half done, one with a section or two, and one submitted to a care
//! provider, each section saved and signed off by the demo person whose role may (the ward
//! nurse Grace Okafor, the therapist Ade Fenwick, Sam).

use std::sync::Arc;

use anyhow::Context;
use careflow_auth::policy::Action;
use careflow_auth::{Actor, Role};
use careflow_domain::OdsCode;
use careflow_domain::TemplateId;
use careflow_domain::assessments::template::SHIPPED;
use careflow_domain::assessments::{
    Answer, Answers, AssessmentCommand, AssessmentId, Assessments, Contributor, Question, QuestionKind,
    RoleName, SectionTemplate, TemplateContent,
};
use careflow_domain::tasks::UserId;
use careflow_domain::{NhsNumber, SectionId};
use careflow_eventstore::EventStore;
use careflow_services::CommandHandler;

use super::{demo_context, handle_at};

/// Publishes the shipped templates and sets the frailty rule, as the acute trust's (RXA) admin.
pub async fn load(store: Arc<dyn EventStore>) -> anyhow::Result<()> {
    crate::seed::shipped(store, &OdsCode::parse("RXA")?).await
}

/// The demo people who take part, by role: user id, organisation, team.
const ASSESSORS: [(Role, &str, &str, &str); 3] = [
    (Role::SocialWorker, "1.la001-hswt", "LA001", "LA001-HSWT"),
    (Role::WardNurse, "1.rxa01-amu-team", "RXA", "RXA01-AMU-TEAM"),
    (Role::Therapist, "1.la001-reablement", "LA001", "LA001-REABLEMENT"),
];

/// The care provider the submitted assessment goes to.
const PROVIDER: &str = "VN101";

/// The demo person of `role`, as actor and contributor.
fn assessor(role: Role) -> anyhow::Result<(Actor, Contributor)> {
    let (_, user, organisation, team) =
        ASSESSORS.into_iter().find(|(r, ..)| *r == role).context("a demo assessor of that role")?;
    let actor =
        Actor { user_id: user.into(), role, organisation: organisation.into(), teams: vec![team.into()] };
    let by = Contributor {
        user_id: UserId::parse(user)?,
        role: RoleName::parse(role.as_str()).map_err(anyhow::Error::msg)?,
        organisation: OdsCode::parse(organisation)?,
    };
    Ok((actor, by))
}

/// The first demo assessor whose role is one of `roles`.
fn one_of(roles: &std::collections::BTreeSet<RoleName>) -> anyhow::Result<(Actor, Contributor)> {
    let role = ASSESSORS
        .into_iter()
        .map(|(role, ..)| role)
        .find(|role| roles.iter().any(|r| r.as_str() == role.as_str()))
        .context("no demo assessor may do this to the section")?;
    assessor(role)
}

/// A plausible answer to `question`.
fn sample(question: &Question, frailty: u8) -> Option<Answer> {
    let text = match question.id.as_str() {
        "what-matters" => "Getting back to my garden and my cat",
        "goals" => "To wash and dress myself again, and walk to the corner shop",
        "risk-plan" => "Pendant alarm; key safe fitted before discharge; carers to check on the stairs",
        "summary" => "Reablement at home, two visits a day for the first fortnight, then review",
        _ => "Discussed with the person and their daughter",
    };
    Some(match &question.kind {
        QuestionKind::Text { .. } => Answer::Text(text.into()),
        QuestionKind::Choice { options } => Answer::Choice(options.first()?.value.clone()),
        QuestionKind::MultiChoice { options } => {
            Answer::Choices(options.iter().take(1).map(|o| o.value.clone()).collect())
        }
        QuestionKind::Number { min, max, .. } => {
            let typical = match question.id.as_str() {
                "care-hours-per-week" => 14.0,
                "visits-per-day" => 2.0,
                _ => 1.0,
            };
            Answer::Number(f64::clamp(typical, *min, *max))
        }
        QuestionKind::Date => Answer::Date(chrono::Utc::now().date_naive() + chrono::Duration::days(3)),
        QuestionKind::YesNo => Answer::YesNo(true),
        QuestionKind::Score { min, max, .. } => Answer::Score(frailty.clamp(*min, *max)),
    })
}

fn answers(section: &SectionTemplate, frailty: u8) -> Answers {
    section.questions.iter().filter_map(|q| sample(q, frailty).map(|a| (q.id.clone(), a))).collect()
}

/// One demo assessment: the patient, how many sections are saved (the first of them signed
/// off), its frailty score, and whether it is submitted.
struct DemoAssessment {
    patient: u32,
    saved: usize,
    signed: usize,
    frailty: u8,
    submitted: bool,
}

const DEMO_ASSESSMENTS: [DemoAssessment; 3] = [
    DemoAssessment { patient: 1, saved: 6, signed: 4, frailty: 6, submitted: false },
    DemoAssessment { patient: 2, saved: 2, signed: 0, frailty: 4, submitted: false },
    DemoAssessment { patient: 3, saved: usize::MAX, signed: usize::MAX, frailty: 7, submitted: true },
];

/// Starts the demo's assessments of demo patients (each command once, by its fixed key).
pub async fn assess(store: Arc<dyn EventStore>) -> anyhow::Result<()> {
    let handler = CommandHandler::<Assessments>::new(store);
    for demo in DEMO_ASSESSMENTS {
        let to = if demo.submitted { Some(PROVIDER) } else { None };
        complete(&handler, SHIPPED[0], &demo, to, chrono::Utc::now()).await?;
    }
    Ok(())
}

/// Starts an assessment of demo patient `demo.patient` from `template` (by Sam Whitlow, for
/// Airedale Council), saves and signs its sections as `demo` says, and submits it to `to`.
async fn complete(
    handler: &CommandHandler<Assessments>,
    (template_id, json): (&str, &str),
    demo: &DemoAssessment,
    to: Option<&str>,
    when: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<AssessmentId> {
    let content: TemplateContent =
        serde_json::from_str(json).with_context(|| format!("template {template_id}"))?;
    {
        let nhs_number: NhsNumber = super::demo_patient(demo.patient)?;
        let key = |what: &str| format!("assessment/{}/{what}", demo.patient);
        let (sam, sam_by) = assessor(Role::SocialWorker)?;
        let assessment_id = AssessmentId(demo_context(&sam, &key("start")).derived_id("assessment"));
        let start = AssessmentCommand::Start {
            assessment_id,
            nhs_number,
            template_id: TemplateId::parse(template_id)?,
            template_version: Some(1),
            task_id: None,
            by: sam_by.clone(),
        };
        handle_at(handler, &sam, &key("start"), Action::UpdateAssessments, when, start).await?;
        // The frailty section first, so that a signed-off score raises the frailty flag.
        let mut sections: Vec<&SectionTemplate> = content.sections.iter().collect();
        sections.sort_by_key(|s| !s.questions.iter().any(|q| q.id.as_str() == "clinical-frailty-scale"));
        for (n, section) in sections.into_iter().enumerate().take(demo.saved) {
            let section_id = SectionId::parse(section.id.as_str())?;
            let (editor, by) = one_of(&section.editors)?;
            let save = AssessmentCommand::SaveSection {
                assessment_id,
                section_id: section_id.clone(),
                base_version: 0,
                answers: answers(section, demo.frailty),
                by,
            };
            handle_at(
                handler,
                &editor,
                &key(&format!("save/{section_id}")),
                Action::UpdateAssessments,
                when,
                save,
            )
            .await?;
            if n < demo.signed {
                let (signer, by) = one_of(&section.signers)?;
                let sign = AssessmentCommand::SignOffSection {
                    assessment_id,
                    section_id: section_id.clone(),
                    version: 1,
                    by,
                };
                handle_at(
                    handler,
                    &signer,
                    &key(&format!("sign/{section_id}")),
                    Action::UpdateAssessments,
                    when,
                    sign,
                )
                .await?;
            }
        }
        if let Some(to) = to {
            let to = [OdsCode::parse(to)?].into();
            let submit = AssessmentCommand::Submit { assessment_id, to, by: sam_by };
            handle_at(handler, &sam, &key("submit"), Action::UpdateAssessments, when, submit).await?;
        }
        Ok(assessment_id)
    }
}

/// A demo patient's assessment completed from the care home template, or (`care_home` false)
/// the reablement one, every section signed off, submitted to the acute trust: what a broker
/// posts a care request from. Returns its id.
pub async fn submitted(
    store: Arc<dyn EventStore>,
    patient: u32,
    frailty: u8,
    care_home: bool,
    when: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<AssessmentId> {
    let handler = CommandHandler::<Assessments>::new(store);
    let demo = DemoAssessment { patient, saved: usize::MAX, signed: usize::MAX, frailty, submitted: true };
    complete(&handler, SHIPPED[usize::from(care_home)], &demo, Some("RXA"), when).await
}
