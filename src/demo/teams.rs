//! The demo's teams, routing rules and tasks: every ward has its own team and every site a
//! housekeeping team; two councils (LA001, LA002) have hospital social work, reablement and
//! brokerage teams; the community trust has a district nursing team. The councils' routing
//! rules send trusted assessments of patients living in their districts to their social work
//! teams (LA001 also takes those from anywhere else). Every team has open tasks, some of them
//! past their due time (recorded as raised earlier), which the clock marks overdue and
//! escalates to the team's lead as soon as careflow runs.
//!
//! Loaded before the beds, so the workflows route the demo's discharges to these teams.

use std::collections::BTreeSet;

use careflow_auth::Role;
use careflow_auth::policy::Action;
use careflow_domain::beds::{Label, Note, Pathway};
use careflow_domain::tasks::{
    District, Priority, RaisedBy, RoutingRule, TaskActor, TaskCommand, TaskId, TaskKind, Tasks, TeamConfig,
    TeamKind, UserId,
};
use careflow_domain::{OdsCode, RuleId, TeamId, WardId};
use careflow_services::CommandHandler;
use chrono::{Duration, Utc};

use super::{SITES, admin, demo_context, handle};

/// The councils: ODS-style code, name, the postcode districts they serve.
const COUNCILS: [(&str, &str, &[&str]); 2] =
    [("LA001", "Airedale Council", &["LS6", "LS7", "LS8"]), ("LA002", "Bradley Council", &["BD7", "BD9"])];

/// A team of the demo: organisation, id, name, kind, wards.
struct DemoTeam {
    organisation: String,
    id: String,
    name: String,
    kind: TeamKind,
    wards: Vec<String>,
}

fn teams() -> Vec<DemoTeam> {
    let mut teams = Vec::new();
    for (organisation, site_id, site_name, wards) in SITES {
        let mut site_wards = Vec::new();
        for (code, name, _, _) in wards {
            let ward = format!("{site_id}-{code}");
            site_wards.push(ward.clone());
            teams.push(DemoTeam {
                organisation: organisation.into(),
                id: format!("{ward}-TEAM"),
                name: format!("{name} nursing team"),
                kind: TeamKind::Ward,
                wards: vec![ward],
            });
        }
        teams.push(DemoTeam {
            organisation: organisation.into(),
            id: format!("{site_id}-HOUSEKEEPING"),
            name: format!("{site_name} housekeeping"),
            kind: TeamKind::Housekeeping,
            wards: site_wards,
        });
    }
    teams.push(DemoTeam {
        organisation: "RXA".into(),
        id: super::virtualwards::TEAM.into(),
        name: "Northgate hospital at home".into(),
        kind: TeamKind::VirtualWard,
        wards: vec!["RXA01-VW-RESP".into(), "RXA01-VW-FRAILTY".into()],
    });
    teams.push(DemoTeam {
        organisation: "RYC".into(),
        id: "RYC-DN".into(),
        name: "Eastbrook district nursing".into(),
        kind: TeamKind::CommunityNursing,
        wards: Vec::new(),
    });
    for (council, name, _) in COUNCILS {
        for (suffix, what, kind) in [
            ("HSWT", "hospital social work team", TeamKind::SocialCare),
            ("REABLEMENT", "reablement team", TeamKind::Therapy),
            ("BROKERAGE", "brokerage team", TeamKind::Brokerage),
        ] {
            teams.push(DemoTeam {
                organisation: council.into(),
                id: format!("{council}-{suffix}"),
                name: format!("{name} {what}"),
                kind,
                wards: Vec::new(),
            });
        }
    }
    teams
}

/// A demo user id: `lead.<team>` leads a team, `<n>.<team>` are its members.
fn user(text: &str) -> anyhow::Result<UserId> {
    Ok(UserId::parse(&text.to_lowercase())?)
}

/// The demo's open tasks per team: title, priority, hours until due (negative: overdue).
const TASKS: [(&str, Priority, i64); 3] = [
    ("Chase the pharmacy for discharge medicines", Priority::Urgent, -3),
    ("Update the family on the discharge plan", Priority::Routine, 20),
    ("Check the equipment delivery for a discharge home", Priority::Immediate, 2),
];

/// Configures the demo's teams and routing rules, and raises its tasks.
pub async fn load(store: std::sync::Arc<dyn careflow_eventstore::EventStore>) -> anyhow::Result<()> {
    let handler = CommandHandler::<Tasks>::new(store);
    for team in teams() {
        let team_id = TeamId::parse(&team.id)?;
        let members =
            (1..=3).map(|n| user(&format!("{n}.{}", team.id))).collect::<anyhow::Result<BTreeSet<_>>>()?;
        let config = TeamConfig {
            organisation: OdsCode::parse(&team.organisation)?,
            name: Label::parse(&team.name)?,
            kind: team.kind,
            wards: team.wards.iter().map(|w| WardId::parse(w)).collect::<Result<_, _>>()?,
            lead: Some(user(&format!("lead.{}", team.id))?),
            members,
        };
        let actor = admin(&team.organisation);
        let command = TaskCommand::ConfigureTeam { team_id, config };
        handle(&handler, &actor, &format!("team/{}", team.id), Action::ConfigureTeams, command).await?;
    }
    let pathways: BTreeSet<Pathway> =
        [1u8, 2, 3].into_iter().map(Pathway::try_from).collect::<Result<_, _>>()?;
    for (rank, (council, name, districts)) in COUNCILS.into_iter().enumerate() {
        let rule = RoutingRule {
            name: Label::parse(&format!("{name}: discharges of its residents"))?,
            task_kind: TaskKind::TrustedAssessment,
            pathways: pathways.clone(),
            districts: districts.iter().map(|d| District::parse(d)).collect::<Result<_, _>>()?,
            hospitals: BTreeSet::new(),
            team_id: TeamId::parse(&format!("{council}-HSWT"))?,
            rank: 10 + u32::try_from(rank)?,
            enabled: true,
        };
        let command = TaskCommand::SetRoutingRule {
            rule_id: RuleId::parse(&format!("d2a-{}", council.to_lowercase()))?,
            rule,
        };
        handle(&handler, &admin(council), &format!("rule/{council}"), Action::ConfigureTeams, command)
            .await?;
    }
    // Discharges of patients living anywhere else go to the first council.
    let fallback = RoutingRule {
        name: Label::parse("Airedale Council: everyone else")?,
        task_kind: TaskKind::TrustedAssessment,
        pathways,
        districts: BTreeSet::new(),
        hospitals: BTreeSet::new(),
        team_id: TeamId::parse("LA001-HSWT")?,
        rank: 100,
        enabled: true,
    };
    let command =
        TaskCommand::SetRoutingRule { rule_id: RuleId::parse("d2a-la001-fallback")?, rule: fallback };
    handle(&handler, &admin("LA001"), "rule/LA001-fallback", Action::ConfigureTeams, command).await?;
    raise_tasks(&handler).await
}

/// Three open tasks in every team's inbox, raised by its lead; the first is already overdue
/// (it was raised earlier, so careflow itself records it, naming the lead who raised it).
async fn raise_tasks(handler: &CommandHandler<Tasks>) -> anyhow::Result<()> {
    let now = Utc::now();
    for team in teams() {
        let lead = user(&format!("lead.{}", team.id))?;
        for (n, (title, priority, due_in)) in TASKS.into_iter().enumerate() {
            let key = format!("task/{}/{n}", team.id);
            let person = careflow_auth::Actor {
                user_id: lead.to_string(),
                role: Role::Admin,
                organisation: team.organisation.clone(),
                teams: vec![team.id.clone()],
            };
            let overdue = due_in < 0;
            let actor = if overdue {
                careflow_auth::Actor { role: Role::Careflow, ..person.clone() }
            } else {
                person.clone()
            };
            let task_id = TaskId(demo_context(&actor, &key).derived_id("task"));
            let command = TaskCommand::Create {
                task_id,
                nhs_number: None,
                title: Label::parse(title)?,
                kind: TaskKind::General,
                team_id: TeamId::parse(&team.id)?,
                priority,
                due: Some(now + Duration::hours(due_in)),
                links: Vec::new(),
                note: Some(Note::parse("Raised by the team's lead at the morning huddle")?),
                raised_by: RaisedBy::Person {
                    user_id: lead.clone(),
                    organisation: OdsCode::parse(&team.organisation)?,
                },
                by: if overdue {
                    TaskActor::System
                } else {
                    TaskActor::Person { user_id: lead.clone(), teams: vec![TeamId::parse(&team.id)?] }
                },
            };
            handle(handler, &actor, &key, Action::UpdateTasks, command).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_demo_person_leads_or_belongs_to_the_teams_they_sign_in_with() {
        let teams = teams();
        for persona in crate::demo::personas() {
            for team_id in &persona.teams {
                let team =
                    teams.iter().find(|t| &t.id == team_id).unwrap_or_else(|| panic!("no team {team_id}"));
                assert_eq!(team.organisation, persona.organisation, "{}", persona.user_id);
                let id = team.id.to_lowercase();
                let people = [format!("lead.{id}"), format!("1.{id}"), format!("2.{id}"), format!("3.{id}")];
                assert!(people.contains(&persona.user_id), "{} is not in {team_id}", persona.user_id);
            }
        }
    }
}
