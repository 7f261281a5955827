//! Virtual-ward escalation (DESIGN.md §5, 2), in the same engine as the other workflows, and
//! the virtual wards' deadlines on the one clock.
//!
//! - **NEWS2.** A patient's latest reading scoring low–medium (a 3 in one parameter) gives the
//!   virtual ward's team a review task (routine, due within 2 hours); medium, an urgent task due
//!   within the hour; high, an immediate one (due within 15 minutes). While one is open, a
//!   reading at the same risk or lower raises nothing (a score that stays high is one task, not
//!   one per reading); a higher risk raises the higher task and cancels the lower one. A reading
//!   taken earlier that arrives late is not the patient's state now and escalates nothing.
//! - **Missed readings.** careflow's clock ([`VirtualWardDeadlines`]) marks a reading missed
//!   when the plan says it is overdue; the first missed reading gives the team a task to
//!   contact the patient, cancelled when a reading arrives.
//! - Discharge from the virtual ward cancels whatever is open for the admission.
//!
//! The team is the organisation's `VIRTUAL_WARD` team naming the virtual ward, else one of the
//! organisation naming no wards. Every task names its built-in rule
//! (`careflow.news2-escalation`, `careflow.missed-reading`, version 1) and links the admission;
//! every command id derives from the event that caused it.

use std::collections::HashMap;

use careflow_domain::tasks::{Priority, RaisedBy, TaskEvent, TaskKind, TaskLink, TeamKind};
use careflow_domain::virtualwards::{AdmissionId, News2, Risk, VirtualWardEvent};
use careflow_domain::{OdsCode, RuleId, TeamId, WardId};
use careflow_eventstore::{Filter, RecordedEvent, StoreError};
use careflow_proto::tasks::v1 as tasks;
use careflow_proto::virtualwards::v1 as virtualwards;
use chrono::{DateTime, Duration, Utc};

use crate::clock::{Deadline, DeadlineChange, Deadlines};
use crate::commands::{Ack, Command, command_id};
use crate::runner::Process;
use crate::teams::Teams;

/// The built-in rules' version.
const BUILT_IN_VERSION: u32 = 1;

/// A reading missed: the clock sends `MarkReadingMissed` when the admission's `next_due`
/// passes; every event that moves it sets the deadline again, the discharge clears it.
#[derive(Debug, Clone, Copy, Default)]
pub struct VirtualWardDeadlines;

impl VirtualWardDeadlines {
    fn key(admission_id: &AdmissionId) -> String {
        format!("vw-reading/{admission_id}")
    }
}

impl Deadlines for VirtualWardDeadlines {
    fn categories(&self) -> &'static [&'static str] {
        &["vw"]
    }

    fn scan(&self, event: &RecordedEvent) -> Result<Vec<DeadlineChange>, StoreError> {
        let event: VirtualWardEvent = event.decode()?;
        let set = |admission_id: &AdmissionId, due: DateTime<Utc>| {
            let key = Self::key(admission_id);
            let command = Command::MarkReadingMissed(virtualwards::MarkReadingMissedRequest {
                command_id: command_id(&key, &due.to_rfc3339()),
                admission_id: admission_id.to_string(),
                due: due.to_rfc3339(),
            });
            vec![DeadlineChange::Set(Box::new(Deadline { key, due, command }))]
        };
        Ok(match &event {
            VirtualWardEvent::AdmittedToVirtualWard { admission_id, next_due, .. }
            | VirtualWardEvent::MonitoringPlanChanged { admission_id, next_due, .. }
            | VirtualWardEvent::ReadingMissed { admission_id, next_due, .. } => set(admission_id, *next_due),
            VirtualWardEvent::ObservationsRecorded { admission_id, next_due, latest: true, .. } => {
                set(admission_id, *next_due)
            }
            VirtualWardEvent::DischargedFromVirtualWard { admission_id, .. } => {
                vec![DeadlineChange::Clear(Self::key(admission_id))]
            }
            VirtualWardEvent::ObservationsRecorded { latest: false, .. }
            | VirtualWardEvent::VirtualWardConfigured { .. }
            | VirtualWardEvent::VirtualWardChanged { .. }
            | VirtualWardEvent::VirtualBedTaken { .. }
            | VirtualWardEvent::VirtualBedFreed { .. } => Vec::new(),
        })
    }
}

/// What a workflow task of an admission is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Purpose {
    /// A response to a NEWS2 at this risk.
    Escalation(Risk),
    /// Contact the patient: a reading is missed.
    Missed,
}

impl Purpose {
    fn same_kind(self, other: Purpose) -> bool {
        matches!(
            (self, other),
            (Purpose::Escalation(_), Purpose::Escalation(_)) | (Purpose::Missed, Purpose::Missed)
        )
    }
}

#[derive(Debug, Clone)]
struct Admission {
    ward_id: WardId,
    organisation: OdsCode,
    nhs_number: String,
}

/// The virtual-ward escalation process manager's state, folded from the log.
#[derive(Debug, Default)]
pub struct VirtualWardFlows {
    admissions: HashMap<AdmissionId, Admission>,
    teams: Teams,
    /// Open tasks by admission: what each is for, and its id.
    open: HashMap<AdmissionId, Vec<(Purpose, String)>>,
    /// The same, by task id.
    tasks: HashMap<String, AdmissionId>,
    /// Creations sent and not yet acknowledged, by command id.
    creating: HashMap<String, (AdmissionId, Purpose)>,
}

/// The priority, due time and title of a task for a NEWS2 at `risk`.
fn response(
    risk: Risk,
    news2: &News2,
    at: DateTime<Utc>,
) -> Option<(tasks::Priority, DateTime<Utc>, String)> {
    let incomplete = if news2.complete { "" } else { ", incomplete set" };
    let total = news2.total;
    Some(match risk {
        Risk::Low => return None,
        Risk::LowMedium => (
            tasks::Priority::Routine,
            at + Duration::hours(2),
            format!("Review: a NEWS2 parameter scored 3 (total {total}{incomplete})"),
        ),
        Risk::Medium => (
            tasks::Priority::Urgent,
            at + Duration::hours(1),
            format!("Urgent response: NEWS2 {total} (medium{incomplete})"),
        ),
        Risk::High => (
            tasks::Priority::Immediate,
            at + Duration::minutes(15),
            format!("Emergency response: NEWS2 {total} (high{incomplete})"),
        ),
    })
}

fn risk_of(priority: Priority) -> Risk {
    match priority {
        Priority::Immediate => Risk::High,
        Priority::Urgent => Risk::Medium,
        Priority::Routine => Risk::LowMedium,
    }
}

impl VirtualWardFlows {
    /// No state yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The team that works for `ward` (see the module docs).
    fn team(&self, ward: &WardId, organisation: &OdsCode) -> Option<&TeamId> {
        self.teams.for_ward(ward, TeamKind::VirtualWard, Some(organisation))
    }

    fn open_for(&self, admission: AdmissionId, purpose: Purpose) -> Option<&(Purpose, String)> {
        self.open.get(&admission)?.iter().find(|(p, _)| p.same_kind(purpose))
    }

    fn track(&mut self, admission: AdmissionId, purpose: Purpose, task_id: String) {
        let open = self.open.entry(admission).or_default();
        open.retain(|(_, id)| *id != task_id);
        open.push((purpose, task_id.clone()));
        self.tasks.insert(task_id, admission);
    }

    fn untrack(&mut self, task_id: &str) {
        if let Some(admission) = self.tasks.remove(task_id)
            && let Some(open) = self.open.get_mut(&admission)
        {
            open.retain(|(_, id)| id != task_id);
            if open.is_empty() {
                self.open.remove(&admission);
            }
        }
    }

    fn create(
        &mut self,
        event: &RecordedEvent,
        admission_id: AdmissionId,
        purpose: Purpose,
        (kind, priority, due, title): (tasks::TaskKind, tasks::Priority, DateTime<Utc>, String),
    ) -> Option<Command> {
        let admission = self.admissions.get(&admission_id)?;
        let Some(team) = self.team(&admission.ward_id, &admission.organisation) else {
            tracing::warn!(
                ward = %admission.ward_id,
                organisation = %admission.organisation,
                "no virtual ward team works for this virtual ward; no task raised"
            );
            return None;
        };
        let (rule, purpose_name) = match purpose {
            Purpose::Escalation(_) => ("careflow.news2-escalation", "news2-escalation"),
            Purpose::Missed => ("careflow.missed-reading", "missed-reading"),
        };
        let rule = RuleId::parse(rule).ok()?;
        let command_id = command_id(&event.id.to_string(), purpose_name);
        let request = tasks::CreateTaskRequest {
            command_id: command_id.clone(),
            nhs_number: admission.nhs_number.clone(),
            title,
            kind: kind as i32,
            team_id: team.to_string(),
            priority: priority as i32,
            due: due.to_rfc3339(),
            links: vec![tasks::TaskLink { kind: "vw_admission".into(), id: admission_id.to_string() }],
            note: String::new(),
            rule_id: rule.to_string(),
            rule_version: BUILT_IN_VERSION,
        };
        self.creating.insert(command_id, (admission_id, purpose));
        Some(Command::CreateTask(request))
    }

    fn cancel(&self, event: &RecordedEvent, task_id: &str, reason: &str) -> Command {
        Command::CancelTask(tasks::CancelTaskRequest {
            command_id: command_id(&event.id.to_string(), &format!("cancel/{task_id}")),
            task_id: task_id.to_owned(),
            reason: reason.to_owned(),
        })
    }

    fn recorded(
        &mut self,
        event: &RecordedEvent,
        admission_id: AdmissionId,
        news2: &News2,
        at: DateTime<Utc>,
    ) -> Vec<Command> {
        let mut commands = Vec::new();
        if let Some((_, task)) = self.open_for(admission_id, Purpose::Missed).cloned() {
            commands.push(self.cancel(event, &task, "a reading arrived"));
        }
        if let Some((priority, due, title)) = response(news2.risk, news2, at) {
            let open = self.open_for(admission_id, Purpose::Escalation(news2.risk)).cloned();
            let higher = match open {
                Some((Purpose::Escalation(risk), _)) => news2.risk > risk,
                _ => true,
            };
            if higher {
                let task = (tasks::TaskKind::News2Escalation, priority, due, title);
                if let Some(create) = self.create(event, admission_id, Purpose::Escalation(news2.risk), task)
                {
                    commands.push(create);
                    if let Some((_, lower)) = open {
                        commands.push(self.cancel(event, &lower, "superseded by a higher NEWS2"));
                    }
                }
            }
        }
        commands
    }

    fn virtual_ward(&mut self, event: &RecordedEvent, live: bool) -> Vec<Command> {
        let decoded = match event.decode::<VirtualWardEvent>() {
            Ok(decoded) => decoded,
            Err(error) => {
                tracing::warn!(%error, "a virtual ward event careflow cannot read");
                return Vec::new();
            }
        };
        match decoded {
            VirtualWardEvent::AdmittedToVirtualWard {
                admission_id,
                ward_id,
                organisation,
                nhs_number,
                ..
            } => {
                self.admissions.insert(
                    admission_id,
                    Admission { ward_id, organisation, nhs_number: nhs_number.to_string() },
                );
                Vec::new()
            }
            VirtualWardEvent::ObservationsRecorded { admission_id, news2, latest: true, at, .. } if live => {
                self.recorded(event, admission_id, &news2, at)
            }
            VirtualWardEvent::ReadingMissed { admission_id, missed, due, .. } if live => {
                if self.open_for(admission_id, Purpose::Missed).is_some() {
                    return Vec::new();
                }
                let title = format!(
                    "Contact the patient: {missed} reading{} missed",
                    if missed == 1 { "" } else { "s" }
                );
                let task = (
                    tasks::TaskKind::MissedReading,
                    tasks::Priority::Urgent,
                    due + Duration::hours(1),
                    title,
                );
                self.create(event, admission_id, Purpose::Missed, task).into_iter().collect()
            }
            VirtualWardEvent::DischargedFromVirtualWard { admission_id, .. } => {
                let open = self.open.get(&admission_id).cloned().unwrap_or_default();
                self.admissions.remove(&admission_id);
                if !live {
                    return Vec::new();
                }
                open.iter()
                    .map(|(_, task)| self.cancel(event, task, "discharged from the virtual ward"))
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    fn task(&mut self, event: &RecordedEvent) {
        let Ok(decoded) = event.decode::<TaskEvent>() else { return };
        match decoded {
            TaskEvent::TeamConfigured { team_id, config, .. } => {
                self.teams.configure(team_id, config);
            }
            TaskEvent::TaskCreated {
                task_id,
                kind,
                priority,
                links,
                raised_by: RaisedBy::Rule { .. },
                ..
            } => {
                let admission = links.iter().find_map(|link| match link {
                    TaskLink::VirtualWardAdmission(id) => Some(AdmissionId(*id)),
                    _ => None,
                });
                let purpose = match kind {
                    TaskKind::News2Escalation => Some(Purpose::Escalation(risk_of(priority))),
                    TaskKind::MissedReading => Some(Purpose::Missed),
                    _ => None,
                };
                if let (Some(admission), Some(purpose)) = (admission, purpose) {
                    self.track(admission, purpose, task_id.to_string());
                }
            }
            TaskEvent::TaskCompleted { task_id, .. } | TaskEvent::TaskCancelled { task_id, .. } => {
                self.untrack(&task_id.to_string());
            }
            _ => {}
        }
    }
}

impl Process for VirtualWardFlows {
    fn name(&self) -> &'static str {
        "virtual-wards"
    }

    fn filter(&self) -> Filter {
        Filter::categories(["vw", "team", "task"])
    }

    fn handle(&mut self, event: &RecordedEvent, live: bool) -> Vec<Command> {
        match event.stream.category() {
            "vw" => self.virtual_ward(event, live),
            "team" | "task" => {
                self.task(event);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn acknowledged(&mut self, command: &Command, ack: &Ack) {
        match command {
            Command::CreateTask(request) => {
                if let Some((admission, purpose)) = self.creating.remove(&request.command_id) {
                    self.track(admission, purpose, ack.id.clone());
                }
            }
            // Finished now, whether or not the log has shown it yet.
            Command::CancelTask(request) => self.untrack(&request.task_id),
            Command::CompleteTask(request) => self.untrack(&request.task_id),
            Command::MarkTaskOverdue(_)
            | Command::MarkBedCleaned(_)
            | Command::ApplyFlagRule(_)
            | Command::MarkReadingMissed(_)
            | Command::CloseOfferWindow(_) => {}
        }
    }

    fn refused(&mut self, command: &Command) {
        match command {
            Command::CreateTask(request) => {
                self.creating.remove(&request.command_id);
            }
            Command::CancelTask(request) => self.untrack(&request.task_id),
            Command::CompleteTask(request) => self.untrack(&request.task_id),
            Command::MarkTaskOverdue(_)
            | Command::MarkBedCleaned(_)
            | Command::ApplyFlagRule(_)
            | Command::MarkReadingMissed(_)
            | Command::CloseOfferWindow(_) => {}
        }
    }
}
