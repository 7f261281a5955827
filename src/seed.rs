//! What every careflow starts with, not only the demo: the assessment templates careflow ships
//! (the reablement trusted assessment, the care home trusted assessment) and the frailty flag
//! rule (a signed-off Clinical Frailty Scale answer of 6 or more raises the frailty flag),
//! published by an admin of the organisation that owns them for the care system
//! (`serve --seed-templates <ODS>`). Each seeding command has a fixed command id per
//! organisation, so every later start is a retry of the first and adds nothing: an admin's
//! later versions stay, and so do they when a new careflow ships changed templates (publish
//! those as a new version on purpose). When another organisation already owns them, seeding
//! says so and leaves them be.

use std::sync::Arc;

use anyhow::Context;
use careflow_auth::policy::Action;
use careflow_auth::{Actor, Role};
use careflow_domain::assessments::template::SHIPPED;
use careflow_domain::assessments::{AssessmentCommand, Assessments, Contributor, RoleName, TemplateContent};
use careflow_domain::flags::{FlagCommand, Flags, rules::frailty_rule};
use careflow_domain::tasks::UserId;
use careflow_domain::{Decider, OdsCode, RefusalKind, TemplateId};
use careflow_eventstore::EventStore;
use careflow_services::{CommandContext, CommandHandler, ServiceError};
use uuid::Uuid;

const SEED_NAMESPACE: Uuid = Uuid::from_u128(0x6361_7265_666c_6f77_5345_4544_0000_0001);

/// The admin who seeds, for `organisation`.
fn seeder(organisation: &OdsCode) -> Actor {
    Actor {
        user_id: format!("careflow-seed.{}", organisation.as_str().to_lowercase()),
        role: Role::Admin,
        organisation: organisation.to_string(),
        teams: Vec::new(),
    }
}

/// Carries out one seeding command with the fixed command id of `key`; says whether it was
/// refused because another organisation owns what it changes.
async fn seed<D: Decider>(
    handler: &CommandHandler<D>,
    actor: &Actor,
    key: &str,
    action: Action,
    command: D::Command,
) -> anyhow::Result<bool> {
    let command_id = Uuid::new_v5(&SEED_NAMESPACE, format!("{}/{key}", actor.organisation).as_bytes());
    let context = CommandContext {
        command_id,
        actor: actor.clone(),
        correlation_id: command_id,
        traceparent: None,
        at: chrono::Utc::now(),
    };
    match handler.handle(&context, action, command).await {
        Ok(_) | Err(ServiceError::CommandIdReused) => Ok(true),
        Err(
            ServiceError::PermissionDenied(_) | ServiceError::Refused { kind: RefusalKind::Forbidden, .. },
        ) => Ok(false),
        Err(error) => Err(error).with_context(|| format!("seeding {key}")),
    }
}

/// Publishes the shipped templates and sets the frailty rule as an admin of `organisation`.
pub async fn shipped(store: Arc<dyn EventStore>, organisation: &OdsCode) -> anyhow::Result<()> {
    let actor = seeder(organisation);
    let by = Contributor {
        user_id: UserId::parse(&actor.user_id)?,
        role: RoleName::parse(actor.role.as_str()).map_err(anyhow::Error::msg)?,
        organisation: organisation.clone(),
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
        if !seed(&templates, &actor, &format!("template/{id}"), Action::ConfigureTemplates, command).await? {
            tracing::warn!(template = id, organisation = %organisation, "another organisation owns the shipped template: left as it is");
        }
    }
    let (rule_id, rule) = frailty_rule().context("the frailty rule")?;
    let flags = CommandHandler::<Flags>::new(store);
    let key = format!("flag-rule/{rule_id}");
    let command = FlagCommand::SetRule { rule_id: rule_id.clone(), rule, organisation: organisation.clone() };
    if !seed(&flags, &actor, &key, Action::ConfigureTeams, command).await? {
        tracing::warn!(rule = %rule_id, organisation = %organisation, "another organisation owns the frailty rule: left as it is");
    }
    Ok(())
}
