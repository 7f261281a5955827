//! Assessment templates as data: sections of typed questions, which roles may edit and sign
//! off each section, which sections and questions are required. An admin publishes a template
//! (a new version of it) without a redeploy; an assessment is pinned to the version it started
//! from. The shipped templates are JSON files under `domain/templates/`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::beds::{Label, Note};
use crate::{QuestionId, SectionId};

/// A role's name as tokens carry it (`ward_nurse`, `social_worker`, …): lower-case letters and
/// `_`. Which names exist is the access policy's business, checked where a template is published.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RoleName(String);

impl RoleName {
    /// Parses a role name.
    pub fn parse(input: &str) -> Result<Self, String> {
        let ok = !input.is_empty()
            && input.len() <= 40
            && input.chars().all(|c| c.is_ascii_lowercase() || c == '_');
        if ok { Ok(Self(input.to_owned())) } else { Err(format!("{input:?} is not a role name")) }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for RoleName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for RoleName {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<RoleName> for String {
    fn from(value: RoleName) -> Self {
        value.0
    }
}

/// A template's content, as an admin writes it (its version is given when it is published).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateContent {
    /// Its name, e.g. "Reablement trusted assessment".
    pub title: Label,
    /// What it is for.
    #[serde(default)]
    pub description: Option<Note>,
    /// Its sections, in order.
    pub sections: Vec<SectionTemplate>,
}

/// A section: its questions and who may edit and sign it off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionTemplate {
    /// Its id, unique in the template.
    pub id: SectionId,
    /// Its heading.
    pub title: Label,
    /// Whether it must be signed off before the assessment is submitted.
    pub required: bool,
    /// The roles that may save its answers.
    pub editors: BTreeSet<RoleName>,
    /// The roles that may sign it off.
    pub signers: BTreeSet<RoleName>,
    /// Whether care providers see it before an award, free text included (a "summary for the
    /// provider"); of every other section they see only the structured answers.
    #[serde(default)]
    pub shared_with_providers: bool,
    /// Whether care providers see nothing of it before an award, not even its structured
    /// answers (consent and capacity, who the person lives with, their home, their wishes).
    #[serde(default)]
    pub withheld_from_providers: bool,
    /// Its questions, in order.
    pub questions: Vec<Question>,
}

/// A question.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Question {
    /// Its id, unique in the template (flag rules name it).
    pub id: QuestionId,
    /// What is asked.
    pub text: Note,
    /// Guidance for whoever answers.
    #[serde(default)]
    pub help: Option<Note>,
    /// Whether the section can be signed off without it.
    pub required: bool,
    /// What kind of answer it takes.
    pub kind: QuestionKind,
}

/// An option of a choice question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChoiceOption {
    /// What is stored (a slug).
    pub value: QuestionId,
    /// What is shown.
    pub label: Label,
}

/// One level of a score (e.g. Clinical Frailty Scale 6, "Moderately frail").
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreLevel {
    /// The score.
    pub score: u8,
    /// Its name.
    pub label: Label,
    /// What it means.
    pub description: Note,
}

/// The kinds of question and what each accepts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum QuestionKind {
    /// Free text of at most `max_length` characters.
    Text {
        /// The longest answer.
        max_length: u16,
    },
    /// One of the options.
    Choice {
        /// The options.
        options: Vec<ChoiceOption>,
    },
    /// Any of the options (none counts as unanswered).
    MultiChoice {
        /// The options.
        options: Vec<ChoiceOption>,
    },
    /// A number from `min` to `max`; a whole number when `whole`.
    Number {
        /// The smallest allowed.
        min: f64,
        /// The largest allowed.
        max: f64,
        /// Whole numbers only.
        #[serde(default)]
        whole: bool,
        /// Its unit, e.g. "hours per week".
        #[serde(default)]
        unit: Option<Label>,
    },
    /// A calendar date.
    Date,
    /// Yes or no.
    YesNo,
    /// A score from `min` to `max`, each level described.
    Score {
        /// The lowest score.
        min: u8,
        /// The highest score.
        max: u8,
        /// Every score from `min` to `max`, described.
        levels: Vec<ScoreLevel>,
    },
}

/// An answer to a question, tagged by its kind (`{"text": "…"}`, `{"score": 7}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    /// To a text question.
    Text(String),
    /// To a choice question: the option's value.
    Choice(QuestionId),
    /// To a multi-choice question: the options' values.
    Choices(BTreeSet<QuestionId>),
    /// To a number question.
    Number(f64),
    /// To a date question.
    Date(NaiveDate),
    /// To a yes/no question.
    YesNo(bool),
    /// To a score question.
    Score(u8),
}

impl Answer {
    /// Whether this counts as no answer (empty text, no choice made).
    pub fn is_blank(&self) -> bool {
        match self {
            Answer::Text(text) => text.trim().is_empty(),
            Answer::Choices(values) => values.is_empty(),
            Answer::Choice(_) | Answer::Number(_) | Answer::Date(_) | Answer::YesNo(_) | Answer::Score(_) => {
                false
            }
        }
    }
}

impl Question {
    /// Why `answer` does not answer this question, if it does not.
    pub fn check(&self, answer: &Answer) -> Result<(), String> {
        let expected = match (&self.kind, answer) {
            (QuestionKind::Text { max_length }, Answer::Text(text)) => {
                if text.chars().count() > usize::from(*max_length) {
                    return Err(format!("is longer than {max_length} characters"));
                }
                if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
                    return Err("contains control characters".into());
                }
                return Ok(());
            }
            (QuestionKind::Choice { options }, Answer::Choice(value)) => {
                return if options.iter().any(|o| &o.value == value) {
                    Ok(())
                } else {
                    Err(format!("{value} is not one of its options"))
                };
            }
            (QuestionKind::MultiChoice { options }, Answer::Choices(values)) => {
                return match values.iter().find(|v| !options.iter().any(|o| &o.value == *v)) {
                    Some(value) => Err(format!("{value} is not one of its options")),
                    None => Ok(()),
                };
            }
            (QuestionKind::Number { min, max, whole, .. }, Answer::Number(n)) => {
                if !n.is_finite() || n < min || n > max {
                    return Err(format!("must be from {min} to {max}"));
                }
                if *whole && n.fract() != 0.0 {
                    return Err("must be a whole number".into());
                }
                return Ok(());
            }
            (QuestionKind::Date, Answer::Date(_)) | (QuestionKind::YesNo, Answer::YesNo(_)) => return Ok(()),
            (QuestionKind::Score { min, max, .. }, Answer::Score(score)) => {
                return if (min..=max).contains(&score) {
                    Ok(())
                } else {
                    Err(format!("must be from {min} to {max}"))
                };
            }
            (QuestionKind::Text { .. }, _) => "text",
            (QuestionKind::Choice { .. }, _) => "one of its options",
            (QuestionKind::MultiChoice { .. }, _) => "a list of its options",
            (QuestionKind::Number { .. }, _) => "a number",
            (QuestionKind::Date, _) => "a date",
            (QuestionKind::YesNo, _) => "yes or no",
            (QuestionKind::Score { .. }, _) => "a score",
        };
        Err(format!("takes {expected}"))
    }
}

impl TemplateContent {
    /// A section by id.
    pub fn section(&self, id: &SectionId) -> Option<&SectionTemplate> {
        self.sections.iter().find(|s| &s.id == id)
    }

    /// A question by id, with its section.
    pub fn question(&self, id: &QuestionId) -> Option<(&SectionTemplate, &Question)> {
        self.sections.iter().find_map(|s| s.questions.iter().find(|q| &q.id == id).map(|q| (s, q)))
    }

    /// Every problem that makes this no usable template, each named by where it is
    /// (`sections[2].questions[0].kind`); empty when it is fine.
    pub fn problems(&self) -> Vec<(String, String)> {
        let mut problems = Vec::new();
        if self.sections.is_empty() {
            problems.push(("sections".into(), "a template needs at least one section".into()));
        }
        let mut sections = BTreeSet::new();
        let mut questions = BTreeMap::new();
        for (i, section) in self.sections.iter().enumerate() {
            let at = format!("sections[{i}]");
            if !sections.insert(&section.id) {
                problems.push((format!("{at}.id"), format!("section {} appears twice", section.id)));
            }
            if section.editors.is_empty() {
                problems.push((format!("{at}.editors"), "name at least one role that may edit it".into()));
            }
            if section.signers.is_empty() {
                problems
                    .push((format!("{at}.signers"), "name at least one role that may sign it off".into()));
            }
            if section.questions.is_empty() {
                problems.push((format!("{at}.questions"), "a section needs at least one question".into()));
            }
            if section.questions.len() > MAX_QUESTIONS {
                problems.push((
                    format!("{at}.questions"),
                    format!("a section has at most {MAX_QUESTIONS} questions"),
                ));
            }
            for (j, question) in section.questions.iter().enumerate() {
                let at = format!("{at}.questions[{j}]");
                if let Some(first) = questions.insert(&question.id, at.clone()) {
                    problems.push((format!("{at}.id"), format!("question {} is also {first}", question.id)));
                }
                if let Some(problem) = question.kind.problem() {
                    problems.push((format!("{at}.kind"), problem));
                }
            }
        }
        problems
    }
}

impl QuestionKind {
    fn problem(&self) -> Option<String> {
        let options_problem = |options: &[ChoiceOption]| {
            let values: BTreeSet<_> = options.iter().map(|o| &o.value).collect();
            if options.is_empty() {
                Some("a choice needs options".to_owned())
            } else if values.len() != options.len() {
                Some("two options have the same value".to_owned())
            } else {
                None
            }
        };
        match self {
            QuestionKind::Text { max_length } if *max_length == 0 || *max_length > 5000 => {
                Some("max_length must be from 1 to 5000".into())
            }
            QuestionKind::Choice { options } | QuestionKind::MultiChoice { options } => {
                options_problem(options)
            }
            QuestionKind::Number { min, max, .. } if !(min.is_finite() && max.is_finite() && min < max) => {
                Some("min and max must be numbers with min below max".into())
            }
            QuestionKind::Score { min, max, levels } => {
                let described: Vec<u8> = levels.iter().map(|l| l.score).collect();
                let expected: Vec<u8> = (*min..=*max).collect();
                if min > max {
                    Some("min must not be above max".into())
                } else if described != expected {
                    Some(format!("levels must describe every score from {min} to {max}, in order"))
                } else {
                    None
                }
            }
            QuestionKind::Text { .. }
            | QuestionKind::Number { .. }
            | QuestionKind::Date
            | QuestionKind::YesNo => None,
        }
    }
}

/// The most questions a section may ask (one save carries every answer of its section).
pub const MAX_QUESTIONS: usize = 200;

/// The templates careflow ships, as published on first run: (id, content as JSON).
pub const SHIPPED: [(&str, &str); 2] = [
    ("reablement-trusted-assessor", include_str!("../../templates/reablement-trusted-assessor.json")),
    ("care-home-trusted-assessment", include_str!("../../templates/care-home-trusted-assessment.json")),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn shipped(id: &str) -> TemplateContent {
        let (_, json) = SHIPPED.iter().find(|(t, _)| *t == id).expect("shipped");
        serde_json::from_str(json).unwrap_or_else(|e| panic!("{id}: {e}"))
    }

    #[test]
    fn the_shipped_templates_are_valid() {
        for (id, _) in SHIPPED {
            let template = shipped(id);
            assert_eq!(template.problems(), Vec::<(String, String)>::new(), "{id}");
        }
    }

    #[test]
    fn the_reablement_template_has_the_sections_a_trusted_assessor_completes() {
        let template = shipped("reablement-trusted-assessor");
        let ids: Vec<&str> = template.sections.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(
            ids,
            [
                "personal-details-and-consent",
                "living-situation",
                "mobility-and-transfers",
                "personal-care",
                "continence",
                "nutrition",
                "medication",
                "cognition-and-communication",
                "frailty",
                "risks",
                "goals-and-wishes",
                "care-needs-summary"
            ]
        );
        let (_, cfs) = template.question(&QuestionId::parse("clinical-frailty-scale").unwrap()).unwrap();
        let QuestionKind::Score { min: 1, max: 9, levels } = &cfs.kind else { panic!("{:?}", cfs.kind) };
        assert_eq!(levels[5].label.as_str(), "Moderately frail");
        let (_, hours) = template.question(&QuestionId::parse("care-hours-per-week").unwrap()).unwrap();
        assert!(matches!(hours.kind, QuestionKind::Number { whole: false, .. }));
    }

    fn question(kind: QuestionKind) -> Question {
        Question {
            id: QuestionId::parse("q").unwrap(),
            text: Note::parse("Q?").unwrap(),
            help: None,
            required: true,
            kind,
        }
    }

    fn options() -> Vec<ChoiceOption> {
        ["alone", "with-family"]
            .map(|v| ChoiceOption { value: QuestionId::parse(v).unwrap(), label: Label::parse(v).unwrap() })
            .to_vec()
    }

    #[test]
    fn each_kind_of_question_takes_its_answers_and_says_why_not() {
        let id = |v: &str| QuestionId::parse(v).unwrap();
        let text = question(QuestionKind::Text { max_length: 5 });
        assert!(text.check(&Answer::Text("hello".into())).is_ok());
        assert_eq!(text.check(&Answer::Text("hello!".into())), Err("is longer than 5 characters".into()));
        assert_eq!(text.check(&Answer::Score(3)), Err("takes text".into()));
        let choice = question(QuestionKind::Choice { options: options() });
        assert!(choice.check(&Answer::Choice(id("alone"))).is_ok());
        assert_eq!(
            choice.check(&Answer::Choice(id("on-a-boat"))),
            Err("on-a-boat is not one of its options".into())
        );
        let multi = question(QuestionKind::MultiChoice { options: options() });
        assert!(multi.check(&Answer::Choices([id("alone"), id("with-family")].into())).is_ok());
        assert!(multi.check(&Answer::Choices([id("nope")].into())).is_err());
        let hours = question(QuestionKind::Number { min: 0.0, max: 168.0, whole: false, unit: None });
        assert!(hours.check(&Answer::Number(10.5)).is_ok());
        assert_eq!(hours.check(&Answer::Number(169.0)), Err("must be from 0 to 168".into()));
        assert!(hours.check(&Answer::Number(f64::NAN)).is_err());
        let visits = question(QuestionKind::Number { min: 0.0, max: 28.0, whole: true, unit: None });
        assert_eq!(visits.check(&Answer::Number(2.5)), Err("must be a whole number".into()));
        let score = question(QuestionKind::Score { min: 1, max: 9, levels: Vec::new() });
        assert!(score.check(&Answer::Score(9)).is_ok());
        assert_eq!(score.check(&Answer::Score(0)), Err("must be from 1 to 9".into()));
        assert_eq!(
            question(QuestionKind::YesNo).check(&Answer::Text("yes".into())),
            Err("takes yes or no".into())
        );
    }

    #[test]
    fn a_template_with_holes_names_every_one() {
        let mut template = shipped("care-home-trusted-assessment");
        template.sections[0].editors.clear();
        let copy = template.sections[0].questions[0].clone();
        template.sections[1].questions.push(copy);
        template.sections[0].questions[0].kind = QuestionKind::Choice { options: Vec::new() };
        let fields: Vec<String> = template.problems().into_iter().map(|(f, _)| f).collect();
        assert_eq!(fields.len(), 3, "{fields:?}");
        assert!(fields.contains(&"sections[0].editors".to_owned()), "{fields:?}");
        assert!(fields.contains(&"sections[0].questions[0].kind".to_owned()), "{fields:?}");
        assert!(
            fields.iter().any(|f| f.starts_with("sections[1].questions[") && f.ends_with(".id")),
            "{fields:?}"
        );
    }

    #[test]
    fn answers_read_as_tagged_json() {
        let answers: BTreeMap<QuestionId, Answer> = serde_json::from_str(
            r#"{"a": {"text": "x"}, "b": {"score": 7}, "c": {"choices": ["alone"]}, "d": {"yes_no": true}}"#,
        )
        .unwrap();
        assert_eq!(answers[&QuestionId::parse("b").unwrap()], Answer::Score(7));
        assert!(serde_json::from_str::<Answer>(r#"{"score": 300}"#).is_err());
    }
}
