//! The discharge flows (DESIGN.md §5), as one process manager:
//!
//! 1. **Discharge to assess, first legs.** A patient marked medically optimised on pathway 1–3
//!    gets a task for the social care team the routing rules name (by pathway, the patient's
//!    postcode district, the hospital) to complete a trusted assessment, due within one working
//!    day. On pathway 0 the ward's own team gets "discharge home today". Changing the pathway
//!    cancels the task that no longer applies; the discharge completes the ward's task (a
//!    trusted assessment goes on after discharge: that is discharge to assess).
//!    **Last legs:** a care placement agreed (brokerage) for a patient still in hospital gives
//!    the ward's team "discharge to <provider> on <date>", due on the start date; the provider
//!    handing it back, or the request cancelled, cancels it; the discharge completes it.
//! 2. **Bed turnaround.** A discharge gives the ward's housekeeping team a task to clean the
//!    bed; marking the bed cleaned completes it, and completing it marks the bed cleaned.
//! 3. **End of life.** Admitting a patient with an active end of life care plan flag gives the
//!    ward's team a task to review the care plan.
//!
//! Every task names the rule that raised it: a routing rule and its version, or the built-in
//! rule of its flow (`careflow.discharge-home`, `careflow.bed-turnaround`,
//! `careflow.end-of-life-admission`, `careflow.discharge-to-care`, version 1). Every command id derives from the event that
//! caused it.

use std::collections::{BTreeMap, HashMap};

use careflow_domain::beds::{BedEvent, Pathway};
use careflow_domain::brokerage::{BrokerageEvent, CareRequestId};
use careflow_domain::flags::{FlagEvent, FlagId, FlagKind};
use careflow_domain::patients::PatientEvent;
use careflow_domain::tasks::{
    RaisedBy, RoutingFacts, RoutingRule, TaskEvent, TaskKind, TaskLink, TeamKind, route,
};
use careflow_domain::{BedId, NhsNumber, OdsCode, RuleId, StayId, TeamId, WardId};
use careflow_eventstore::{Filter, RecordedEvent};
use careflow_proto::beds::v1 as beds;
use careflow_proto::tasks::v1 as tasks;
use chrono::{DateTime, Datelike, Duration, Utc, Weekday};

use crate::commands::{Ack, Command, command_id};
use crate::runner::Process;
use crate::teams::Teams;

/// The built-in rules' version.
const BUILT_IN_VERSION: u32 = 1;

/// What a workflow task is about: a stay or a bed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Subject {
    Stay(StayId),
    Bed(BedId),
}

#[derive(Debug, Clone)]
struct Stay {
    nhs_number: NhsNumber,
    ward: WardId,
    organisation: Option<OdsCode>,
}

/// The discharge flows' state, folded from the log.
#[derive(Debug, Default)]
pub struct DischargeFlows {
    stays: HashMap<StayId, Stay>,
    districts: HashMap<NhsNumber, String>,
    end_of_life: HashMap<NhsNumber, FlagId>,
    teams: Teams,
    rules: BTreeMap<RuleId, (u32, RoutingRule)>,
    /// Open workflow tasks: by what they are about and their kind.
    open: HashMap<(Subject, TaskKind), String>,
    /// The same, by task id.
    subjects: HashMap<String, (Subject, TaskKind)>,
    /// Creations sent and not yet seen in the log, by command id.
    creating: HashMap<String, (Subject, TaskKind)>,
    /// Placements agreed for a patient in hospital: the stay each discharges, by request.
    placements: HashMap<CareRequestId, StayId>,
}

/// "Discharge to <provider> on <date>", the provider's name shortened to fit a task's title
/// (100 characters).
fn discharge_to_care_title(provider: &str, date: chrono::NaiveDate) -> String {
    let tail = format!(" on {date}");
    let room = 100 - "Discharge to ".len() - tail.len();
    let name: String = if provider.chars().count() > room {
        provider.chars().take(room - 1).chain(std::iter::once('…')).collect()
    } else {
        provider.to_owned()
    };
    format!("Discharge to {name}{tail}")
}

/// The next working day (Monday to Friday) at the same time. Bank holidays are not modelled.
pub fn one_working_day_after(at: DateTime<Utc>) -> DateTime<Utc> {
    let mut due = at + Duration::days(1);
    while matches!(due.weekday(), Weekday::Sat | Weekday::Sun) {
        due += Duration::days(1);
    }
    due
}

fn pathway_number(pathway: Pathway) -> u8 {
    pathway.number()
}

impl DischargeFlows {
    /// No state yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The team of `kind` that works for `ward` (see [`Teams::for_ward`]).
    fn ward_team(&self, ward: &WardId, kind: TeamKind, organisation: Option<&OdsCode>) -> Option<&TeamId> {
        self.teams.for_ward(ward, kind, organisation)
    }

    fn track(&mut self, subject: Subject, kind: TaskKind, task_id: String) {
        self.subjects.insert(task_id.clone(), (subject.clone(), kind));
        self.open.insert((subject, kind), task_id);
    }

    /// Stops tracking a task that is finished; what it was about is now free for a new task
    /// (unless a newer one already took its place).
    fn untrack(&mut self, task_id: &str) -> Option<(Subject, TaskKind)> {
        let tracked = self.subjects.remove(task_id)?;
        if self.open.get(&tracked).is_some_and(|open| open == task_id) {
            self.open.remove(&tracked);
        }
        Some(tracked)
    }

    #[allow(clippy::too_many_arguments)] // one call per flow; a struct would only rename them
    fn create(
        &mut self,
        event: &RecordedEvent,
        purpose: &str,
        subject: Subject,
        (kind, title): (TaskKind, String),
        team: &TeamId,
        nhs_number: Option<NhsNumber>,
        (priority, due): (tasks::Priority, DateTime<Utc>),
        links: Vec<TaskLink>,
        (rule, version): (&RuleId, u32),
    ) -> Command {
        let command_id = command_id(&event.id.to_string(), purpose);
        self.creating.insert(command_id.clone(), (subject, kind));
        let links = links
            .into_iter()
            .map(|link| {
                let (kind, id) = match link {
                    TaskLink::Stay(id) => ("stay", id.to_string()),
                    TaskLink::Bed(id) => ("bed", id.to_string()),
                    TaskLink::Ward(id) => ("ward", id.to_string()),
                    TaskLink::Assessment(id) => ("assessment", id.to_string()),
                    TaskLink::CareRequest(id) => ("care_request", id.to_string()),
                    TaskLink::VirtualWardAdmission(id) => ("vw_admission", id.to_string()),
                };
                tasks::TaskLink { kind: kind.into(), id }
            })
            .collect();
        Command::CreateTask(tasks::CreateTaskRequest {
            command_id,
            nhs_number: nhs_number.map(|n| n.to_string()).unwrap_or_default(),
            title,
            kind: match kind {
                TaskKind::General => tasks::TaskKind::General,
                TaskKind::TrustedAssessment => tasks::TaskKind::TrustedAssessment,
                TaskKind::DischargeHome => tasks::TaskKind::DischargeHome,
                TaskKind::BedCleaning => tasks::TaskKind::BedCleaning,
                TaskKind::CarePlanReview => tasks::TaskKind::CarePlanReview,
                TaskKind::News2Escalation => tasks::TaskKind::News2Escalation,
                TaskKind::MissedReading => tasks::TaskKind::MissedReading,
                TaskKind::DischargeToCare => tasks::TaskKind::DischargeToCare,
            } as i32,
            team_id: team.to_string(),
            priority: priority as i32,
            due: due.to_rfc3339(),
            links,
            note: String::new(),
            rule_id: rule.to_string(),
            rule_version: version,
        })
    }

    fn finish(
        &self,
        event: &RecordedEvent,
        subject: Subject,
        kind: TaskKind,
        cancel: Option<&str>,
        outcome: &str,
    ) -> Option<Command> {
        let task_id = self.open.get(&(subject, kind))?.clone();
        let command_id = command_id(&event.id.to_string(), &format!("finish/{task_id}"));
        Some(match cancel {
            Some(reason) => {
                Command::CancelTask(tasks::CancelTaskRequest { command_id, task_id, reason: reason.into() })
            }
            None => Command::CompleteTask(tasks::CompleteTaskRequest {
                command_id,
                task_id,
                outcome: outcome.into(),
            }),
        })
    }

    /// A built-in rule's id (`None` only if its name stopped being a valid rule id: logged).
    fn built_in(name: &str) -> Option<RuleId> {
        let rule = RuleId::parse(name).ok();
        if rule.is_none() {
            tracing::error!(rule = name, "a built-in rule's name is not a rule id; no task raised");
        }
        rule
    }

    fn medically_optimised(
        &mut self,
        event: &RecordedEvent,
        stay_id: StayId,
        pathway: Pathway,
        at: DateTime<Utc>,
    ) -> Vec<Command> {
        let Some(stay) = self.stays.get(&stay_id).cloned() else { return Vec::new() };
        let subject = Subject::Stay(stay_id);
        let mut commands = Vec::new();
        let number = pathway_number(pathway);
        if pathway == Pathway::Home {
            let reason = "the patient's discharge pathway changed to 0: no trusted assessment is needed";
            commands.extend(self.finish(
                event,
                subject.clone(),
                TaskKind::TrustedAssessment,
                Some(reason),
                "",
            ));
            if self.open.contains_key(&(subject.clone(), TaskKind::DischargeHome)) {
                return commands;
            }
            let Some(team) = self.ward_team(&stay.ward, TeamKind::Ward, stay.organisation.as_ref()).cloned()
            else {
                tracing::warn!(ward = %stay.ward, "no ward team to discharge a pathway 0 patient home; no task raised");
                return commands;
            };
            let end_of_day = at.date_naive().and_hms_opt(20, 0, 0).map(|t| t.and_utc()).filter(|t| *t > at);
            let due = end_of_day.unwrap_or(at + Duration::hours(2));
            let Some(rule) = Self::built_in("careflow.discharge-home") else { return commands };
            commands.push(self.create(
                event,
                "discharge-home",
                subject,
                (TaskKind::DischargeHome, "Discharge home today (pathway 0)".into()),
                &team,
                Some(stay.nhs_number),
                (tasks::Priority::Urgent, due),
                vec![TaskLink::Stay(stay_id), TaskLink::Ward(stay.ward.clone())],
                (&rule, BUILT_IN_VERSION),
            ));
            return commands;
        }
        let reason = format!("the patient's discharge pathway changed to {number}");
        commands.extend(self.finish(event, subject.clone(), TaskKind::DischargeHome, Some(&reason), ""));
        if self.open.contains_key(&(subject.clone(), TaskKind::TrustedAssessment)) {
            return commands;
        }
        let facts = RoutingFacts {
            task_kind: TaskKind::TrustedAssessment,
            pathway: Some(pathway),
            district: self.districts.get(&stay.nhs_number).cloned(),
            hospital: stay.organisation.clone(),
            ward: Some(stay.ward.clone()),
        };
        let rules = self.rules.iter().map(|(id, (version, rule))| (id, *version, rule));
        let Some((rule_id, version, rule)) = route(rules, &facts) else {
            tracing::warn!(
                pathway = number,
                "no routing rule names a team for this trusted assessment; no task raised"
            );
            return commands;
        };
        let (rule_id, team) = (rule_id.clone(), rule.team_id.clone());
        commands.push(self.create(
            event,
            "trusted-assessment",
            subject,
            (
                TaskKind::TrustedAssessment,
                format!("Complete a trusted assessment for discharge (pathway {number})"),
            ),
            &team,
            Some(stay.nhs_number),
            (tasks::Priority::Urgent, one_working_day_after(at)),
            vec![TaskLink::Stay(stay_id)],
            (&rule_id, version),
        ));
        commands
    }

    fn beds(&mut self, event: &RecordedEvent, live: bool) -> Vec<Command> {
        let Ok(decoded) = event.decode::<BedEvent>() else { return Vec::new() };
        match decoded {
            BedEvent::PatientAdmitted { stay_id, nhs_number, ward_id, organisation, at, .. } => {
                let stay = Stay { nhs_number, ward: ward_id.clone(), organisation: organisation.clone() };
                self.stays.insert(stay_id, stay);
                if !live || !self.end_of_life.contains_key(&nhs_number) {
                    return Vec::new();
                }
                let Some(team) = self.ward_team(&ward_id, TeamKind::Ward, organisation.as_ref()).cloned()
                else {
                    tracing::warn!(ward = %ward_id, "no ward team to review an end of life care plan; no task raised");
                    return Vec::new();
                };
                let Some(rule) = Self::built_in("careflow.end-of-life-admission") else { return Vec::new() };
                vec![self.create(
                    event,
                    "care-plan-review",
                    Subject::Stay(stay_id),
                    (TaskKind::CarePlanReview, "Review the end of life care plan on admission".into()),
                    &team,
                    Some(nhs_number),
                    (tasks::Priority::Urgent, at + Duration::hours(24)),
                    vec![TaskLink::Stay(stay_id), TaskLink::Ward(ward_id)],
                    (&rule, BUILT_IN_VERSION),
                )]
            }
            BedEvent::PatientTransferred { stay_id, to_ward_id, .. } => {
                if let Some(stay) = self.stays.get_mut(&stay_id) {
                    stay.ward = to_ward_id;
                }
                Vec::new()
            }
            BedEvent::PatientMedicallyOptimised { stay_id, pathway, at, .. } if live => {
                self.medically_optimised(event, stay_id, pathway, at)
            }
            BedEvent::PatientDischarged { stay_id, bed_id, at, .. } => {
                let Some(stay) = self.stays.remove(&stay_id) else { return Vec::new() };
                if !live {
                    return Vec::new();
                }
                self.placements.retain(|_, stay| *stay != stay_id);
                let mut commands: Vec<Command> = [TaskKind::DischargeHome, TaskKind::DischargeToCare]
                    .into_iter()
                    .filter_map(|kind| {
                        self.finish(event, Subject::Stay(stay_id), kind, None, "the patient was discharged")
                    })
                    .collect();
                let Some(team) =
                    self.ward_team(&stay.ward, TeamKind::Housekeeping, stay.organisation.as_ref()).cloned()
                else {
                    tracing::warn!(ward = %stay.ward, "no housekeeping team for the ward; no cleaning task raised");
                    return commands;
                };
                let Some(rule) = Self::built_in("careflow.bed-turnaround") else { return commands };
                commands.push(self.create(
                    event,
                    "bed-cleaning",
                    Subject::Bed(bed_id.clone()),
                    (TaskKind::BedCleaning, format!("Clean bed {bed_id}")),
                    &team,
                    // Housekeeping needs the bed, not the patient.
                    None,
                    (tasks::Priority::Urgent, at + Duration::hours(2)),
                    vec![TaskLink::Bed(bed_id), TaskLink::Ward(stay.ward)],
                    (&rule, BUILT_IN_VERSION),
                ));
                commands
            }
            BedEvent::BedCleaned { bed_id, .. } if live => self
                .finish(
                    event,
                    Subject::Bed(bed_id),
                    TaskKind::BedCleaning,
                    None,
                    "the bed was marked cleaned",
                )
                .into_iter()
                .collect(),
            _ => Vec::new(),
        }
    }

    /// Discharge to assess, last legs: a placement agreed for a patient still in hospital gives
    /// the ward's team "discharge to <provider> on <date>"; a hand-back or a cancellation
    /// cancels it; the discharge completes it (above).
    fn brokerage(&mut self, event: &RecordedEvent, live: bool) -> Vec<Command> {
        let Ok(decoded) = event.decode::<BrokerageEvent>() else { return Vec::new() };
        match decoded {
            BrokerageEvent::PlacementAgreed { request_id, nhs_number, provider_name, start_date, .. } => {
                let Some((stay_id, stay)) = self
                    .stays
                    .iter()
                    .find(|(_, s)| s.nhs_number == nhs_number)
                    .map(|(id, s)| (*id, s.clone()))
                else {
                    // Discharged already (discharge to assess): nothing for the ward to do.
                    return Vec::new();
                };
                self.placements.insert(request_id, stay_id);
                let subject = Subject::Stay(stay_id);
                if !live || self.open.contains_key(&(subject.clone(), TaskKind::DischargeToCare)) {
                    return Vec::new();
                }
                let Some(team) =
                    self.ward_team(&stay.ward, TeamKind::Ward, stay.organisation.as_ref()).cloned()
                else {
                    tracing::warn!(ward = %stay.ward, "no ward team to discharge to a care placement; no task raised");
                    return Vec::new();
                };
                let Some(rule) = Self::built_in("careflow.discharge-to-care") else { return Vec::new() };
                let due = start_date.and_hms_opt(12, 0, 0).map_or(event.recorded_at, |t| t.and_utc());
                vec![self.create(
                    event,
                    "discharge-to-care",
                    subject,
                    (TaskKind::DischargeToCare, discharge_to_care_title(provider_name.as_str(), start_date)),
                    &team,
                    Some(nhs_number),
                    (tasks::Priority::Urgent, due.max(event.recorded_at)),
                    vec![
                        TaskLink::Stay(stay_id),
                        TaskLink::Ward(stay.ward.clone()),
                        TaskLink::CareRequest(request_id.0),
                    ],
                    (&rule, BUILT_IN_VERSION),
                )]
            }
            BrokerageEvent::PlacementHandedBack { request_id, .. }
            | BrokerageEvent::CareRequestCancelled { request_id, .. } => {
                let Some(stay_id) = self.placements.remove(&request_id) else { return Vec::new() };
                if !live {
                    return Vec::new();
                }
                let reason = match decoded {
                    BrokerageEvent::PlacementHandedBack { .. } => "the provider handed the placement back",
                    _ => "the care request was cancelled",
                };
                self.finish(event, Subject::Stay(stay_id), TaskKind::DischargeToCare, Some(reason), "")
                    .into_iter()
                    .collect()
            }
            _ => Vec::new(),
        }
    }

    fn task(&mut self, event: &RecordedEvent, live: bool) -> Vec<Command> {
        let Ok(decoded) = event.decode::<TaskEvent>() else { return Vec::new() };
        match decoded {
            TaskEvent::TeamConfigured { team_id, config, .. } => {
                self.teams.configure(team_id, config);
            }
            TaskEvent::RoutingRuleSet { rule_id, version, rule, .. } => {
                self.rules.insert(rule_id, (version, rule));
            }
            TaskEvent::TaskCreated { task_id, kind, links, raised_by: RaisedBy::Rule { .. }, .. } => {
                let subject = links.iter().find_map(|link| match (kind, link) {
                    (TaskKind::BedCleaning, TaskLink::Bed(bed)) => Some(Subject::Bed(bed.clone())),
                    (TaskKind::BedCleaning, _) => None,
                    (_, TaskLink::Stay(stay)) => Some(Subject::Stay(*stay)),
                    _ => None,
                });
                if let Some(subject) = subject {
                    self.track(subject, kind, task_id.to_string());
                }
            }
            TaskEvent::TaskCompleted { task_id, by, .. } => {
                let tracked = self.untrack(&task_id.to_string());
                // Housekeeping completed the cleaning task: the bed is clean.
                if let (true, Some(_), Some((Subject::Bed(bed_id), TaskKind::BedCleaning))) =
                    (live, by, tracked)
                {
                    return vec![Command::MarkBedCleaned(beds::MarkBedCleanedRequest {
                        command_id: command_id(&event.id.to_string(), "bed-cleaned"),
                        bed_id: bed_id.to_string(),
                    })];
                }
            }
            TaskEvent::TaskCancelled { task_id, .. } => {
                self.untrack(&task_id.to_string());
            }
            _ => {}
        }
        Vec::new()
    }
}

impl Process for DischargeFlows {
    fn name(&self) -> &'static str {
        "discharge"
    }

    fn filter(&self) -> Filter {
        Filter::categories(["stay", "bed", "patient", "flags", "team", "task", "rule", "care"])
    }

    fn handle(&mut self, event: &RecordedEvent, live: bool) -> Vec<Command> {
        match event.stream.category() {
            "stay" | "bed" => self.beds(event, live),
            "care" => self.brokerage(event, live),
            "team" | "task" | "rule" => self.task(event, live),
            "patient" => {
                match event.decode::<PatientEvent>() {
                    Ok(PatientEvent::PatientRegistered { nhs_number, demographics, .. }) => {
                        if let Some(postcode) = demographics.postcode {
                            self.districts.insert(nhs_number, postcode.district().to_owned());
                        }
                    }
                    Ok(PatientEvent::PatientDemographicsUpdated { nhs_number, change, .. }) => {
                        if let Some(postcode) = change.postcode {
                            self.districts.insert(nhs_number, postcode.district().to_owned());
                        }
                    }
                    _ => {}
                }
                Vec::new()
            }
            "flags" => {
                match event.decode::<FlagEvent>() {
                    Ok(FlagEvent::FlagRaised {
                        nhs_number,
                        flag_id,
                        kind: FlagKind::EndOfLifeCarePlan,
                        ..
                    }) => {
                        self.end_of_life.insert(nhs_number, flag_id);
                    }
                    Ok(FlagEvent::FlagResolved { nhs_number, flag_id, .. })
                        if self.end_of_life.get(&nhs_number) == Some(&flag_id) =>
                    {
                        self.end_of_life.remove(&nhs_number);
                    }
                    _ => {}
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn acknowledged(&mut self, command: &Command, ack: &Ack) {
        match command {
            Command::CreateTask(request) => {
                if let Some((subject, kind)) = self.creating.remove(&request.command_id) {
                    self.track(subject, kind, ack.id.clone());
                }
            }
            // Finished now, whether or not the log has shown it yet: a later event of the same
            // stay (a pathway changed back) must not find it open.
            Command::CancelTask(request) => {
                self.untrack(&request.task_id);
            }
            Command::CompleteTask(request) => {
                self.untrack(&request.task_id);
            }
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
            // The services say it cannot be finished (it is already, or never was): stop
            // tracking it either way.
            Command::CancelTask(request) => {
                self.untrack(&request.task_id);
            }
            Command::CompleteTask(request) => {
                self.untrack(&request.task_id);
            }
            Command::MarkTaskOverdue(_)
            | Command::MarkBedCleaned(_)
            | Command::ApplyFlagRule(_)
            | Command::MarkReadingMissed(_)
            | Command::CloseOfferWindow(_) => {}
        }
    }
}
