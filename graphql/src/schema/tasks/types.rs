//! The tasks context's GraphQL types, over the task models' documents.

use super::*;

/// How soon a task needs doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::Priority")]
pub enum Priority {
    /// Now.
    Immediate,
    /// Within hours.
    Urgent,
    /// In the normal course of work.
    Routine,
}

impl Priority {
    pub(super) fn proto(self) -> i32 {
        let priority = match self {
            Priority::Immediate => pb::Priority::Immediate,
            Priority::Urgent => pb::Priority::Urgent,
            Priority::Routine => pb::Priority::Routine,
        };
        priority as i32
    }
}

/// What kind of work a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::TaskKind")]
pub enum TaskKind {
    /// Anything a person asks of a team.
    General,
    /// Complete a trusted assessment (discharge to assess).
    TrustedAssessment,
    /// Discharge a pathway 0 patient home today.
    DischargeHome,
    /// Clean a bed a patient has left.
    BedCleaning,
    /// Review the care plan of a patient with an end of life care plan.
    CarePlanReview,
    /// Respond to a virtual-ward patient's NEWS2 (the priority says how fast).
    #[graphql(name = "NEWS2_ESCALATION")]
    News2Escalation,
    /// Contact a virtual-ward patient whose reading is overdue.
    MissedReading,
    /// Discharge a patient to the care placement agreed for them, on its start date.
    DischargeToCare,
}

impl TaskKind {
    pub(super) fn proto(self) -> i32 {
        let kind = match self {
            TaskKind::General => pb::TaskKind::General,
            TaskKind::TrustedAssessment => pb::TaskKind::TrustedAssessment,
            TaskKind::DischargeHome => pb::TaskKind::DischargeHome,
            TaskKind::BedCleaning => pb::TaskKind::BedCleaning,
            TaskKind::CarePlanReview => pb::TaskKind::CarePlanReview,
            TaskKind::News2Escalation => pb::TaskKind::News2Escalation,
            TaskKind::MissedReading => pb::TaskKind::MissedReading,
            TaskKind::DischargeToCare => pb::TaskKind::DischargeToCare,
        };
        kind as i32
    }
}

/// What a team does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "domain::TeamKind")]
pub enum TeamKind {
    /// A hospital ward's nursing team.
    Ward,
    /// Adult social care.
    SocialCare,
    /// Housekeeping.
    Housekeeping,
    /// Occupational therapy and physiotherapy.
    Therapy,
    /// Community nursing.
    CommunityNursing,
    /// A virtual ward.
    VirtualWard,
    /// A council's brokerage team.
    Brokerage,
    /// A care home or home-care agency.
    CareProvider,
    /// Anything else.
    Other,
}

impl TeamKind {
    pub(super) fn proto(self) -> i32 {
        let kind = match self {
            TeamKind::Ward => pb::TeamKind::Ward,
            TeamKind::SocialCare => pb::TeamKind::SocialCare,
            TeamKind::Housekeeping => pb::TeamKind::Housekeeping,
            TeamKind::Therapy => pb::TeamKind::Therapy,
            TeamKind::CommunityNursing => pb::TeamKind::CommunityNursing,
            TeamKind::VirtualWard => pb::TeamKind::VirtualWard,
            TeamKind::Brokerage => pb::TeamKind::Brokerage,
            TeamKind::CareProvider => pb::TeamKind::CareProvider,
            TeamKind::Other => pb::TeamKind::Other,
        };
        kind as i32
    }
}

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(remote = "TaskStatusView")]
pub enum TaskStatus {
    /// In the team's inbox, nobody on it.
    Open,
    /// Someone is on it.
    Claimed,
    /// Offered to another team, awaiting its acceptance.
    HandoffPending,
    /// Done.
    Completed,
    /// No longer applies.
    Cancelled,
}

/// A team, with the counts of its work.
pub struct Team {
    pub(super) view: TeamView,
    pub(super) today: chrono::NaiveDate,
}

#[Object]
impl Team {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.view.team_id.clone())
    }
    /// Its organisation (ODS code).
    async fn organisation(&self) -> &str {
        &self.view.organisation
    }
    /// Its name.
    async fn name(&self) -> &str {
        &self.view.name
    }
    /// What it does.
    async fn kind(&self) -> TeamKind {
        self.view.kind.into()
    }
    /// The wards it works for.
    async fn wards(&self) -> &[String] {
        &self.view.wards
    }
    /// Its lead (a user id), to whom overdue tasks escalate.
    async fn lead(&self) -> Option<&str> {
        self.view.lead.as_deref()
    }
    /// Its members' user ids.
    async fn members(&self) -> &[String] {
        &self.view.members
    }
    /// Open tasks it owns.
    async fn open_tasks(&self) -> u32 {
        self.view.open
    }
    /// Of those, overdue.
    async fn overdue_tasks(&self) -> u32 {
        self.view.overdue
    }
    /// Tasks it completed today (UTC).
    async fn completed_today(&self) -> u32 {
        self.view.completed_on(self.today)
    }
}

/// A task in an inbox or a person's list.
pub struct Task {
    pub(super) row: TaskRow,
    /// Whether the caller's role may see patients' identities.
    pub(super) identified: bool,
}

impl Task {
    pub(super) fn of(row: TaskRow, caller: &Caller) -> Self {
        Self { row, identified: policy::role_allows(caller.actor.role, Action::ViewPatients) }
    }
}

#[Object]
impl Task {
    /// Its id.
    async fn id(&self) -> ID {
        ID(self.row.task_id.clone())
    }
    /// The patient's NHS number; null when there is none, or the caller's role may not see
    /// patients' identities (housekeeping, care providers before a placement).
    async fn nhs_number(&self) -> Option<&str> {
        self.row.nhs_number.as_deref().filter(|_| self.identified)
    }
    /// What to do.
    async fn title(&self) -> &str {
        &self.row.title
    }
    /// What kind of work.
    async fn kind(&self) -> TaskKind {
        self.row.kind.into()
    }
    /// The owning team.
    async fn team_id(&self) -> ID {
        ID(self.row.team_id.clone())
    }
    /// The owning team's organisation.
    async fn organisation(&self) -> &str {
        &self.row.organisation
    }
    /// How soon.
    async fn priority(&self) -> Priority {
        self.row.priority.into()
    }
    /// When it is due (RFC 3339, UTC).
    async fn due(&self) -> Option<String> {
        self.row.due.map(|t| t.to_rfc3339())
    }
    /// Whether it passed its due time undone.
    async fn overdue(&self) -> bool {
        self.row.overdue
    }
    /// Where it is in its life.
    async fn status(&self) -> TaskStatus {
        self.row.status.into()
    }
    /// Who has claimed it (a user id).
    async fn claimed_by(&self) -> Option<&str> {
        self.row.claimed_by.as_deref()
    }
    /// The team it is offered to, while a hand-off is pending.
    async fn offered_to(&self) -> Option<ID> {
        self.row.offered_to.clone().map(ID)
    }
    /// When it was created (RFC 3339, UTC).
    async fn created_at(&self) -> String {
        self.row.created_at.to_rfc3339()
    }
    /// When it last changed (RFC 3339, UTC).
    async fn updated_at(&self) -> String {
        self.row.updated_at.to_rfc3339()
    }
}

/// Something a task is about.
#[derive(SimpleObject)]
pub struct TaskLink {
    /// stay, bed, ward, assessment or care_request.
    kind: String,
    /// Its id.
    id: String,
}

/// One step of a task's history: who, when, from which organisation to which.
#[derive(SimpleObject)]
pub struct TaskHistoryEntry {
    /// Global position of the event (a decimal string).
    position: String,
    /// When (RFC 3339, UTC).
    at: String,
    /// What happened (the event type).
    event: String,
    /// Who (a user id, or the rule that raised it); null: careflow itself.
    by: Option<String>,
    /// From which organisation.
    from_organisation: Option<String>,
    /// To which organisation.
    to_organisation: Option<String>,
    /// A comment, an outcome, a reason.
    detail: Option<String>,
}

impl From<HistoryEntry> for TaskHistoryEntry {
    fn from(entry: HistoryEntry) -> Self {
        Self {
            position: entry.position.to_string(),
            at: entry.at.to_rfc3339(),
            event: entry.event_type,
            by: entry.by,
            from_organisation: entry.from_organisation,
            to_organisation: entry.to_organisation,
            detail: entry.detail,
        }
    }
}

/// A task with everything about it.
pub struct TaskDetail {
    pub(super) view: TaskView,
    pub(super) identified: bool,
}

#[Object]
impl TaskDetail {
    /// The task as in an inbox.
    async fn task(&self) -> Task {
        Task { row: self.view.row.clone(), identified: self.identified }
    }
    /// What it is about.
    async fn links(&self) -> Vec<TaskLink> {
        self.view
            .links
            .iter()
            .map(|link| {
                let (kind, id) = match link {
                    domain::TaskLink::Stay(id) => ("stay", id.to_string()),
                    domain::TaskLink::Bed(id) => ("bed", id.to_string()),
                    domain::TaskLink::Ward(id) => ("ward", id.to_string()),
                    domain::TaskLink::Assessment(id) => ("assessment", id.to_string()),
                    domain::TaskLink::CareRequest(id) => ("care_request", id.to_string()),
                    domain::TaskLink::VirtualWardAdmission(id) => ("vw_admission", id.to_string()),
                };
                TaskLink { kind: kind.to_owned(), id }
            })
            .collect()
    }
    /// More detail.
    async fn note(&self) -> Option<&str> {
        self.view.note.as_deref()
    }
    /// Who raised it (a user id), or null when a rule did.
    async fn raised_by_user(&self) -> Option<&str> {
        match &self.view.raised_by {
            domain::RaisedBy::Person { user_id, .. } => Some(user_id.as_str()),
            domain::RaisedBy::Rule { .. } => None,
        }
    }
    /// The workflow rule that raised it, if one did.
    async fn raised_by_rule(&self) -> Option<String> {
        match &self.view.raised_by {
            domain::RaisedBy::Rule { rule, .. } => Some(rule.to_string()),
            domain::RaisedBy::Person { .. } => None,
        }
    }
    /// The version of that rule.
    async fn rule_version(&self) -> Option<u32> {
        match &self.view.raised_by {
            domain::RaisedBy::Rule { version, .. } => Some(*version),
            domain::RaisedBy::Person { .. } => None,
        }
    }
    /// The outcome, once completed.
    async fn outcome(&self) -> Option<&str> {
        self.view.outcome.as_deref()
    }
    /// Every step, oldest first.
    async fn history(&self) -> Vec<TaskHistoryEntry> {
        self.view.history.iter().cloned().map(TaskHistoryEntry::from).collect()
    }
}

/// An overdue task escalated to the caller as a team's lead.
#[derive(SimpleObject)]
pub struct TaskEscalation {
    /// The task.
    task_id: ID,
    /// Its team.
    team_id: ID,
    /// What to do.
    title: String,
    /// When it was due (RFC 3339, UTC).
    due: Option<String>,
    /// When it was escalated (RFC 3339, UTC).
    at: String,
}

impl From<Escalation> for TaskEscalation {
    fn from(e: Escalation) -> Self {
        Self {
            task_id: ID(e.task_id),
            team_id: ID(e.team_id),
            title: e.title,
            due: e.due.map(|t| t.to_rfc3339()),
            at: e.at.to_rfc3339(),
        }
    }
}

/// The caller's tasks.
pub struct MyTasks {
    pub(super) view: MyTasksView,
    pub(super) identified: bool,
}

impl MyTasks {
    pub(super) fn of(view: MyTasksView, caller: &Caller) -> Self {
        Self { view, identified: policy::role_allows(caller.actor.role, Action::ViewPatients) }
    }
}

#[Object]
impl MyTasks {
    /// The tasks the caller has claimed, in work order.
    async fn claimed(&self) -> Vec<Task> {
        self.view.claimed.iter().map(|row| Task { row: row.clone(), identified: self.identified }).collect()
    }
    /// Overdue tasks escalated to the caller as a team's lead, newest first.
    async fn escalated(&self) -> Vec<TaskEscalation> {
        self.view.escalated.iter().cloned().map(TaskEscalation::from).collect()
    }
}

/// A ward's bed turnaround: from a patient's discharge to the bed cleaned.
pub struct WardTurnaround {
    pub(super) ward_id: String,
    pub(super) turnaround: Turnaround,
}

#[Object]
impl WardTurnaround {
    /// The ward.
    async fn ward_id(&self) -> ID {
        ID(self.ward_id.clone())
    }
    /// Beds turned around.
    async fn beds_turned_around(&self) -> u32 {
        self.turnaround.count
    }
    /// The mean turnaround, in minutes; null before the first.
    async fn mean_minutes(&self) -> Option<f64> {
        self.turnaround.mean_seconds().map(|s| s / 60.0)
    }
    /// The longest, in minutes.
    async fn longest_minutes(&self) -> Option<f64> {
        (self.turnaround.count > 0).then(|| self.turnaround.longest_seconds as f64 / 60.0)
    }
    /// The latest, in minutes.
    async fn last_minutes(&self) -> Option<f64> {
        self.turnaround.last_seconds.map(|s| s as f64 / 60.0)
    }
    /// When the latest bed was cleaned (RFC 3339, UTC).
    async fn last_cleaned_at(&self) -> Option<String> {
        self.turnaround.last_at.map(|t| t.to_rfc3339())
    }
}
