//! The assessments context's GraphQL types, over the assessment models' documents.

use std::collections::BTreeMap;

use serde::Serialize;

use super::presence::Here;
use super::*;

/// Where an assessment is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::AssessmentStatus")]
pub enum AssessmentStatus {
    /// Being completed.
    InProgress,
    /// Submitted, awaiting the receiving organisations.
    Submitted,
    /// Every receiving organisation accepted it.
    Accepted,
    /// A receiving organisation returned it: being corrected.
    Returned,
}

/// Someone who took part, in their role, for their organisation.
#[derive(Debug, Clone, SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Contributor {
    /// Their user id.
    pub user_id: String,
    /// Their role.
    pub role: String,
    /// Their organisation (ODS code).
    pub organisation: String,
}

impl From<&DomainContributor> for Contributor {
    fn from(c: &DomainContributor) -> Self {
        Self {
            user_id: c.user_id.to_string(),
            role: c.role.to_string(),
            organisation: c.organisation.to_string(),
        }
    }
}

/// An answer to a question: exactly one of its fields is set, by the question's kind.
#[derive(Debug, Clone, Default, SimpleObject, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Answer {
    /// The question.
    pub question_id: String,
    /// To a text question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// To a choice question: the option's value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choice: Option<String>,
    /// To a multi-choice question: the options' values.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub choices: Option<Vec<String>>,
    /// To a number question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<f64>,
    /// To a date question, YYYY-MM-DD.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// To a yes/no question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub yes_no: Option<bool>,
    /// To a score question.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub score: Option<i32>,
}

impl Answer {
    fn of(question_id: &careflow_domain::QuestionId, answer: &DomainAnswer) -> Self {
        let mut out = Self { question_id: question_id.to_string(), ..Self::default() };
        match answer {
            DomainAnswer::Text(text) => out.text = Some(text.clone()),
            DomainAnswer::Choice(value) => out.choice = Some(value.to_string()),
            DomainAnswer::Choices(values) => {
                out.choices = Some(values.iter().map(ToString::to_string).collect())
            }
            DomainAnswer::Number(n) => out.number = Some(*n),
            DomainAnswer::Date(d) => out.date = Some(d.to_string()),
            DomainAnswer::YesNo(b) => out.yes_no = Some(*b),
            DomainAnswer::Score(s) => out.score = Some(i32::from(*s)),
        }
        out
    }

    /// Every answer of a section, in question id order.
    pub(super) fn all(answers: &domain::Answers) -> Vec<Self> {
        answers.iter().map(|(q, a)| Self::of(q, a)).collect()
    }
}

/// What kind of answer a question takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum QuestionKind {
    /// Free text.
    Text,
    /// One of the options.
    Choice,
    /// Any of the options.
    MultiChoice,
    /// A number in a range.
    Number,
    /// A calendar date.
    Date,
    /// Yes or no.
    YesNo,
    /// A score, each level described (e.g. the Clinical Frailty Scale).
    Score,
}

/// An option of a choice question.
#[derive(Debug, Clone, SimpleObject)]
pub struct ChoiceOption {
    /// What is stored.
    pub value: String,
    /// What is shown.
    pub label: String,
}

/// One level of a score.
#[derive(Debug, Clone, SimpleObject)]
pub struct ScoreLevel {
    /// The score.
    pub score: i32,
    /// Its name.
    pub label: String,
    /// What it means.
    pub description: String,
}

/// A question of a template.
pub struct Question(pub(super) domain::Question);

#[Object]
impl Question {
    /// Its id, unique in the template.
    async fn id(&self) -> &str {
        self.0.id.as_str()
    }
    /// What is asked.
    async fn text(&self) -> &str {
        self.0.text.as_str()
    }
    /// Guidance for whoever answers.
    async fn help(&self) -> Option<&str> {
        self.0.help.as_ref().map(|h| h.as_str())
    }
    /// Whether the section can be signed off without it.
    async fn required(&self) -> bool {
        self.0.required
    }
    /// What kind of answer it takes.
    async fn kind(&self) -> QuestionKind {
        match &self.0.kind {
            domain::QuestionKind::Text { .. } => QuestionKind::Text,
            domain::QuestionKind::Choice { .. } => QuestionKind::Choice,
            domain::QuestionKind::MultiChoice { .. } => QuestionKind::MultiChoice,
            domain::QuestionKind::Number { .. } => QuestionKind::Number,
            domain::QuestionKind::Date => QuestionKind::Date,
            domain::QuestionKind::YesNo => QuestionKind::YesNo,
            domain::QuestionKind::Score { .. } => QuestionKind::Score,
        }
    }
    /// The options of a choice or multi-choice question.
    async fn options(&self) -> Vec<ChoiceOption> {
        match &self.0.kind {
            domain::QuestionKind::Choice { options } | domain::QuestionKind::MultiChoice { options } => {
                options
                    .iter()
                    .map(|o| ChoiceOption { value: o.value.to_string(), label: o.label.to_string() })
                    .collect()
            }
            _ => Vec::new(),
        }
    }
    /// The levels of a score question.
    async fn levels(&self) -> Vec<ScoreLevel> {
        match &self.0.kind {
            domain::QuestionKind::Score { levels, .. } => levels
                .iter()
                .map(|l| ScoreLevel {
                    score: i32::from(l.score),
                    label: l.label.to_string(),
                    description: l.description.to_string(),
                })
                .collect(),
            _ => Vec::new(),
        }
    }
    /// The smallest number or score allowed.
    async fn min(&self) -> Option<f64> {
        match &self.0.kind {
            domain::QuestionKind::Number { min, .. } => Some(*min),
            domain::QuestionKind::Score { min, .. } => Some(f64::from(*min)),
            _ => None,
        }
    }
    /// The largest number or score allowed.
    async fn max(&self) -> Option<f64> {
        match &self.0.kind {
            domain::QuestionKind::Number { max, .. } => Some(*max),
            domain::QuestionKind::Score { max, .. } => Some(f64::from(*max)),
            _ => None,
        }
    }
    /// Whether a number must be whole.
    async fn whole(&self) -> bool {
        matches!(&self.0.kind, domain::QuestionKind::Number { whole: true, .. })
    }
    /// A number's unit, e.g. "hours per week".
    async fn unit(&self) -> Option<&str> {
        match &self.0.kind {
            domain::QuestionKind::Number { unit, .. } => unit.as_ref().map(|u| u.as_str()),
            _ => None,
        }
    }
    /// The longest text answer, in characters.
    async fn max_length(&self) -> Option<i32> {
        match &self.0.kind {
            domain::QuestionKind::Text { max_length } => Some(i32::from(*max_length)),
            _ => None,
        }
    }
}

/// A section of a template.
pub struct TemplateSection(pub(super) domain::SectionTemplate);

#[Object]
impl TemplateSection {
    /// Its id.
    async fn id(&self) -> &str {
        self.0.id.as_str()
    }
    /// Its heading.
    async fn title(&self) -> &str {
        self.0.title.as_str()
    }
    /// Whether it must be signed off before the assessment is submitted.
    async fn required(&self) -> bool {
        self.0.required
    }
    /// The roles that may save its answers.
    async fn editors(&self) -> Vec<&str> {
        self.0.editors.iter().map(|r| r.as_str()).collect()
    }
    /// The roles that may sign it off.
    async fn signers(&self) -> Vec<&str> {
        self.0.signers.iter().map(|r| r.as_str()).collect()
    }
    /// Its questions, in order.
    async fn questions(&self) -> Vec<Question> {
        self.0.questions.iter().cloned().map(Question).collect()
    }
}

/// One version of an assessment template.
pub struct AssessmentTemplate(pub(super) Arc<TemplateView>);

#[Object]
impl AssessmentTemplate {
    /// Its id (shared by its versions).
    async fn id(&self) -> ID {
        ID(self.0.template_id.clone())
    }
    /// This version.
    async fn version(&self) -> u32 {
        self.0.version
    }
    /// Its title.
    async fn title(&self) -> &str {
        self.0.content.title.as_str()
    }
    /// What it is for.
    async fn description(&self) -> Option<&str> {
        self.0.content.description.as_ref().map(|d| d.as_str())
    }
    /// Who published this version.
    async fn published_by(&self) -> Contributor {
        (&self.0.by).into()
    }
    /// When, RFC 3339.
    async fn published_at(&self) -> String {
        self.0.at.to_rfc3339()
    }
    /// Its sections, in order.
    async fn sections(&self) -> Vec<TemplateSection> {
        self.0.content.sections.iter().cloned().map(TemplateSection).collect()
    }
}

/// A template's latest version, as listed.
#[derive(Debug, Clone, SimpleObject)]
pub struct TemplateSummary {
    /// The template.
    pub id: ID,
    /// Its latest version.
    pub version: u32,
    /// Its title.
    pub title: String,
    /// The organisation that owns it.
    pub organisation: String,
    /// When the version was published, RFC 3339.
    pub published_at: String,
}

impl From<TemplateRow> for TemplateSummary {
    fn from(row: TemplateRow) -> Self {
        Self {
            id: ID(row.template_id),
            version: row.version,
            title: row.title,
            organisation: row.organisation,
            published_at: row.published_at.to_rfc3339(),
        }
    }
}

/// A section's sign-off.
#[derive(Debug, Clone, SimpleObject)]
pub struct SignOff {
    /// The version signed.
    pub version: u32,
    /// Who signed it.
    pub by: Contributor,
    /// When, RFC 3339.
    pub at: String,
}

/// Someone in the assessment now, and where.
#[derive(Debug, Clone, SimpleObject)]
pub struct SectionPresence {
    /// Their user id.
    pub user_id: String,
    /// Their role.
    pub role: String,
    /// Their organisation.
    pub organisation: String,
    /// The section they are in; null: looking at the assessment.
    pub section_id: Option<String>,
    /// Since when, RFC 3339.
    pub since: String,
}

impl From<&Here> for SectionPresence {
    fn from(h: &Here) -> Self {
        Self {
            user_id: h.user_id.clone(),
            role: h.role.clone(),
            organisation: h.organisation.clone(),
            section_id: h.section_id.clone(),
            since: h.since.to_rfc3339(),
        }
    }
}

/// A section of an assessment: its template's questions, and its answers as last saved.
pub struct AssessmentSection {
    /// The pinned template, and the section's place in it.
    template: Option<(Arc<TemplateView>, usize)>,
    id: String,
    saved: Option<SectionView>,
    role: String,
    present: Vec<SectionPresence>,
}

impl AssessmentSection {
    fn template(&self) -> Option<&domain::SectionTemplate> {
        self.template.as_ref().and_then(|(t, i)| t.content.sections.get(*i))
    }
}

#[Object]
impl AssessmentSection {
    /// Its id.
    async fn id(&self) -> &str {
        &self.id
    }
    /// Its heading.
    async fn title(&self) -> &str {
        self.template().map_or(self.id.as_str(), |t| t.title.as_str())
    }
    /// Whether it must be signed off before the assessment is submitted.
    async fn required(&self) -> bool {
        self.template().is_some_and(|t| t.required)
    }
    /// The roles that may save its answers.
    async fn editors(&self) -> Vec<&str> {
        self.template().map(|t| t.editors.iter().map(|r| r.as_str()).collect()).unwrap_or_default()
    }
    /// The roles that may sign it off.
    async fn signers(&self) -> Vec<&str> {
        self.template().map(|t| t.signers.iter().map(|r| r.as_str()).collect()).unwrap_or_default()
    }
    /// Whether the caller's role may save it.
    async fn can_edit(&self) -> bool {
        self.template().is_some_and(|t| t.editors.iter().any(|r| r.as_str() == self.role))
    }
    /// Whether the caller's role may sign it off.
    async fn can_sign_off(&self) -> bool {
        self.template().is_some_and(|t| t.signers.iter().any(|r| r.as_str() == self.role))
    }
    /// Its questions, in order.
    async fn questions(&self) -> Vec<Question> {
        self.template().map(|t| t.questions.iter().cloned().map(Question).collect()).unwrap_or_default()
    }
    /// Its version: 0 until first saved. Save on top of it (`baseVersion`).
    async fn version(&self) -> u32 {
        self.saved.as_ref().map_or(0, |s| s.version)
    }
    /// Its answers as last saved.
    async fn answers(&self) -> Vec<Answer> {
        self.saved.as_ref().map(|s| Answer::all(&s.answers)).unwrap_or_default()
    }
    /// Who saved this version.
    async fn saved_by(&self) -> Option<Contributor> {
        self.saved.as_ref().map(|s| (&s.saved_by).into())
    }
    /// When, RFC 3339.
    async fn saved_at(&self) -> Option<String> {
        self.saved.as_ref().map(|s| s.saved_at.to_rfc3339())
    }
    /// Its sign-off, while this version is signed (a later save lapses it).
    async fn sign_off(&self) -> Option<SignOff> {
        let saved = self.saved.as_ref()?;
        let sign = saved.sign_off.as_ref().filter(|o| o.version == saved.version)?;
        Some(SignOff { version: sign.version, by: (&sign.by).into(), at: sign.at.to_rfc3339() })
    }
    /// Who is in this section now.
    async fn present(&self) -> &[SectionPresence] {
        &self.present
    }
}

/// A return by a receiver, or a reopening.
#[derive(Debug, Clone, SimpleObject)]
pub struct Decision {
    /// The organisation that took it.
    pub organisation: String,
    /// Why.
    pub note: String,
    /// Who.
    pub by: Contributor,
    /// When, RFC 3339.
    pub at: String,
}

/// One step of an assessment's history.
#[derive(Debug, Clone, SimpleObject)]
pub struct AssessmentStep {
    /// Its global position (a decimal string).
    pub position: String,
    /// When, RFC 3339.
    pub at: String,
    /// What happened (the event type).
    pub event_type: String,
    /// Who.
    pub by: String,
    /// Their organisation.
    pub organisation: String,
    /// The section saved or signed off.
    pub section_id: Option<String>,
    /// Its version then.
    pub version: Option<u32>,
}

/// An assessment as a whole.
pub struct Assessment {
    pub(super) view: AssessmentView,
    pub(super) template: Option<Arc<TemplateView>>,
    pub(super) here: Vec<Here>,
    identified: bool,
    role: String,
}

impl Assessment {
    /// `view` on its pinned `template`, with who is `here`, as `caller` sees it.
    pub(super) fn new(
        view: AssessmentView,
        template: Option<Arc<TemplateView>>,
        here: Vec<Here>,
        caller: &Caller,
    ) -> Self {
        Self {
            view,
            template,
            here,
            identified: policy::role_allows(caller.actor.role, Action::ViewPatients),
            role: caller.actor.role.as_str().to_owned(),
        }
    }
}

#[Object]
impl Assessment {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.view.assessment_id.clone())
    }
    /// The patient's NHS number; null when the caller's role may not see patients' identities.
    async fn nhs_number(&self) -> Option<&str> {
        self.identified.then_some(self.view.nhs_number.as_str())
    }
    /// Its template's title.
    async fn title(&self) -> &str {
        &self.view.title
    }
    /// Its template.
    async fn template_id(&self) -> ID {
        ID(self.view.template_id.clone())
    }
    /// The template's version it is pinned to.
    async fn template_version(&self) -> u32 {
        self.view.template_version
    }
    /// The pinned template, whole.
    async fn template(&self) -> Option<AssessmentTemplate> {
        self.template.clone().map(AssessmentTemplate)
    }
    /// The assessing organisation.
    async fn organisation(&self) -> &str {
        &self.view.organisation
    }
    /// The task it answers.
    async fn task_id(&self) -> Option<ID> {
        self.view.task_id.clone().map(ID)
    }
    /// The team that owns that task.
    async fn team_id(&self) -> Option<ID> {
        self.view.team_id.clone().map(ID)
    }
    /// Where it is.
    async fn status(&self) -> AssessmentStatus {
        self.view.status.into()
    }
    /// Who started it.
    async fn started_by(&self) -> Contributor {
        (&self.view.started_by).into()
    }
    /// When, RFC 3339.
    async fn started_at(&self) -> String {
        self.view.started_at.to_rfc3339()
    }
    /// When it last changed, RFC 3339.
    async fn updated_at(&self) -> String {
        self.view.updated_at.to_rfc3339()
    }
    /// Every section of the pinned template, in order, with its answers as saved.
    async fn sections(&self) -> Vec<AssessmentSection> {
        let mut present: BTreeMap<String, Vec<SectionPresence>> = BTreeMap::new();
        for here in &self.here {
            if let Some(section) = &here.section_id {
                present.entry(section.clone()).or_default().push(here.into());
            }
        }
        let section = |id: &str, template: Option<(Arc<TemplateView>, usize)>| AssessmentSection {
            template,
            id: id.to_owned(),
            saved: self.view.sections.get(id).cloned(),
            role: self.role.clone(),
            present: present.get(id).cloned().unwrap_or_default(),
        };
        match &self.template {
            Some(t) => t
                .content
                .sections
                .iter()
                .enumerate()
                .map(|(i, s)| section(s.id.as_str(), Some((t.clone(), i))))
                .collect(),
            None => self.view.sections.keys().map(|id| section(id, None)).collect(),
        }
    }
    /// The required sections not yet signed off at their current version: submit when none.
    async fn awaiting_sign_off(&self) -> Vec<&str> {
        self.view.required.iter().filter(|s| !self.view.signed(s)).map(String::as_str).collect()
    }
    /// The organisations it was last submitted to.
    async fn submitted_to(&self) -> Vec<&str> {
        self.view.submitted_to.iter().map(String::as_str).collect()
    }
    /// Who last submitted it.
    async fn submitted_by(&self) -> Option<Contributor> {
        self.view.submitted.as_ref().map(|(by, _)| by.into())
    }
    /// When, RFC 3339.
    async fn submitted_at(&self) -> Option<String> {
        self.view.submitted.as_ref().map(|(_, at)| at.to_rfc3339())
    }
    /// The receivers that accepted it.
    async fn accepted_by(&self) -> Vec<&str> {
        self.view.accepted_by.iter().map(String::as_str).collect()
    }
    /// The last return, with its reasons.
    async fn returned(&self) -> Option<Decision> {
        self.view.returned.as_ref().map(decision)
    }
    /// The last reopening, with its reason.
    async fn reopened(&self) -> Option<Decision> {
        self.view.reopened.as_ref().map(decision)
    }
    /// Who is in the assessment now, and in which section.
    async fn presence(&self) -> Vec<SectionPresence> {
        self.here.iter().map(Into::into).collect()
    }
    /// Its history, oldest first: its start and the most recent steps.
    async fn history(&self, ctx: &Context<'_>) -> Result<Vec<AssessmentStep>, GqlError> {
        let steps = match assessments(ctx)?.get(&history_key(&self.view.assessment_id)).await? {
            Some(AssessmentDoc::History { steps }) => steps,
            _ => Vec::new(),
        };
        Ok(steps
            .iter()
            .map(|s| AssessmentStep {
                position: s.position.to_string(),
                at: s.at.to_rfc3339(),
                event_type: s.event_type.clone(),
                by: s.by.clone(),
                organisation: s.organisation.clone(),
                section_id: s.section_id.clone(),
                version: s.version,
            })
            .collect())
    }
}

fn decision(d: &careflow_projections::assessments::DecisionView) -> Decision {
    Decision {
        organisation: d.organisation.clone(),
        note: d.note.clone(),
        by: (&d.by).into(),
        at: d.at.to_rfc3339(),
    }
}

/// An assessment as listed.
pub struct AssessmentSummary {
    row: AssessmentRow,
    identified: bool,
}

impl AssessmentSummary {
    pub(super) fn of(row: AssessmentRow, caller: &Caller) -> Self {
        Self { row, identified: policy::role_allows(caller.actor.role, Action::ViewPatients) }
    }
}

#[Object]
impl AssessmentSummary {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.row.assessment_id.clone())
    }
    /// The patient's NHS number; null when the caller's role may not see patients' identities.
    async fn nhs_number(&self) -> Option<&str> {
        self.identified.then_some(self.row.nhs_number.as_str())
    }
    /// Its template's title.
    async fn title(&self) -> &str {
        &self.row.title
    }
    /// The assessing organisation.
    async fn organisation(&self) -> &str {
        &self.row.organisation
    }
    /// The task it answers.
    async fn task_id(&self) -> Option<ID> {
        self.row.task_id.clone().map(ID)
    }
    /// The team whose task it answers.
    async fn team_id(&self) -> Option<ID> {
        self.row.team_id.clone().map(ID)
    }
    /// Where it is.
    async fn status(&self) -> AssessmentStatus {
        self.row.status.into()
    }
    /// Required sections signed off.
    async fn required_signed(&self) -> u32 {
        self.row.required_signed
    }
    /// Required sections.
    async fn required(&self) -> u32 {
        self.row.required
    }
    /// When it last changed, RFC 3339.
    async fn updated_at(&self) -> String {
        self.row.updated_at.to_rfc3339()
    }
}
