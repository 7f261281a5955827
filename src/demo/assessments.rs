//! The demo's assessment templates and flag rule: the templates careflow ships (the reablement
//! trusted assessment, the care home trusted assessment) and the frailty rule (a Clinical
//! Frailty Scale answer of 6 or more raises the frailty flag).

use std::sync::Arc;

use anyhow::Context;
use careflow_auth::policy::Action;
use careflow_domain::OdsCode;
use careflow_domain::TemplateId;
use careflow_domain::assessments::template::SHIPPED;
use careflow_domain::assessments::{AssessmentCommand, Assessments, Contributor, RoleName, TemplateContent};
use careflow_domain::flags::{FlagCommand, Flags, rules::frailty_rule};
use careflow_domain::tasks::UserId;
use careflow_eventstore::EventStore;
use careflow_services::CommandHandler;

use super::{admin, handle};

/// Publishes the shipped templates and sets the frailty rule (each once: the same content
/// again is nothing new).
pub async fn load(store: Arc<dyn EventStore>) -> anyhow::Result<()> {
    let actor = admin("RXA");
    let by = Contributor {
        user_id: UserId::parse(&actor.user_id)?,
        role: RoleName::parse(actor.role.as_str()).map_err(anyhow::Error::msg)?,
        organisation: OdsCode::parse(&actor.organisation)?,
    };
    let templates = CommandHandler::<Assessments>::new(store.clone());
    for (id, json) in SHIPPED {
        let content: TemplateContent =
            serde_json::from_str(json).with_context(|| format!("template {id}"))?;
        let command = AssessmentCommand::PublishTemplate {
            template_id: TemplateId::parse(id)?,
            content,
            by: by.clone(),
        };
        handle(&templates, &actor, &format!("template/{id}"), Action::ConfigureTemplates, command).await?;
    }
    let (rule_id, rule) = frailty_rule().context("the frailty rule")?;
    let flags = CommandHandler::<Flags>::new(store);
    let key = format!("flag-rule/{rule_id}");
    handle(
        &flags,
        &actor,
        &key,
        Action::ConfigureTeams,
        FlagCommand::SetRule { rule_id, rule, organisation: OdsCode::parse(&actor.organisation)? },
    )
    .await
}
