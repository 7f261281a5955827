//! The patient record's GraphQL objects.

use super::*;

/// A patient's record, as the caller may see it.
pub struct Patient(pub PatientSummary);

#[Object]
impl Patient {
    /// NHS number, 10 digits.
    async fn nhs_number(&self) -> &str {
        &self.0.nhs_number
    }
    /// Whether the MPI holds a registration for them.
    async fn registered(&self) -> bool {
        self.0.demographics.is_some()
    }
    /// Given name.
    async fn given_name(&self) -> Option<&str> {
        self.0.demographics.as_ref().map(|d| d.given_name.as_str())
    }
    /// Family name.
    async fn family_name(&self) -> Option<&str> {
        self.0.demographics.as_ref().map(|d| d.family_name.as_str())
    }
    /// Date of birth, YYYY-MM-DD.
    async fn date_of_birth(&self) -> Option<String> {
        self.0.demographics.as_ref().and_then(|d| d.date_of_birth).map(|d| d.to_string())
    }
    /// Administrative gender.
    async fn gender(&self) -> Option<Gender> {
        self.0.demographics.as_ref().map(|d| Gender::of_fhir(&d.gender))
    }
    /// Home postcode.
    async fn postcode(&self) -> Option<&str> {
        self.0.demographics.as_ref().and_then(|d| d.postcode.as_deref())
    }
    /// Registered GP practice (ODS code).
    async fn gp_practice(&self) -> Option<&str> {
        self.0.demographics.as_ref().and_then(|d| d.gp_practice.as_deref())
    }
    /// The patient dissents from sharing their record beyond the organisations caring for them.
    async fn sharing_dissent(&self) -> bool {
        self.0.dissent
    }
    /// Date of death, YYYY-MM-DD.
    async fn date_of_death(&self) -> Option<String> {
        self.0.date_of_death.map(|d| d.to_string())
    }
    /// Flags, in the order raised: the active ones only, unless `includeResolved`.
    async fn flags(&self, #[graphql(default = false)] include_resolved: bool) -> Vec<Flag> {
        self.0.flags.iter().filter(|f| include_resolved || f.is_active()).cloned().map(Flag).collect()
    }
    /// The kinds of the active flags.
    async fn active_flag_kinds(&self) -> Vec<FlagKind> {
        self.0.active_flag_kinds().into_iter().map(Into::into).collect()
    }
    /// Where they are: their open hospital stay's bed.
    async fn location(&self) -> Option<Location> {
        self.0.stay.clone().map(Location)
    }
    /// What happened to them, oldest first (the most recent 200 events).
    async fn timeline(&self) -> Vec<TimelineEntry> {
        self.0.timeline.iter().cloned().map(TimelineEntry).collect()
    }
    /// The open tasks about them, oldest first: whose inbox each is in.
    async fn open_tasks(&self) -> Vec<PatientTask> {
        self.0.tasks.iter().cloned().map(PatientTask).collect()
    }
}

/// An open task about a patient.
pub struct PatientTask(careflow_projections::patient_summary::OpenTaskView);

#[Object]
impl PatientTask {
    /// The task.
    async fn id(&self) -> ID {
        ID(self.0.task_id.clone())
    }
    /// What to do.
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// What kind of work (e.g. TRUSTED_ASSESSMENT).
    async fn kind(&self) -> &'static str {
        self.0.kind.as_str()
    }
    /// The team whose inbox it is in.
    async fn team_id(&self) -> ID {
        ID(self.0.team_id.clone())
    }
    /// That team's organisation.
    async fn organisation(&self) -> &str {
        &self.0.organisation
    }
    /// When it is due (RFC 3339, UTC).
    async fn due(&self) -> Option<String> {
        self.0.due.map(|t| t.to_rfc3339())
    }
    /// Whether it passed its due time undone.
    async fn overdue(&self) -> bool {
        self.0.overdue
    }
}

/// A flag.
pub struct Flag(FlagView);

/// Who or what raised a flag.
#[derive(SimpleObject)]
pub struct FlagRaisedBy {
    /// The person's user id, when a person raised it.
    pub user_id: Option<String>,
    /// Their organisation (ODS code).
    pub organisation: Option<String>,
    /// The rule, when a workflow rule raised it.
    pub rule: Option<String>,
    /// The rule's version.
    pub rule_version: Option<i32>,
}

#[Object]
impl Flag {
    /// Flag id.
    async fn id(&self) -> ID {
        ID(self.0.flag_id.clone())
    }
    /// What it warns of.
    async fn kind(&self) -> FlagKind {
        self.0.kind.into()
    }
    /// SNOMED CT code of the concept, where one is assigned.
    async fn snomed_code(&self) -> Option<&'static str> {
        self.snomed().map(|s| s.code)
    }
    /// SNOMED CT term.
    async fn snomed_display(&self) -> Option<&'static str> {
        self.snomed().map(|s| s.display)
    }
    /// Clinical Frailty Scale score (frailty only).
    async fn frailty_score(&self) -> Option<i32> {
        self.0.frailty_score.map(i32::from)
    }
    /// How much it matters.
    async fn severity(&self) -> Severity {
        self.0.severity.into()
    }
    /// Why it was raised.
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    /// Next review, YYYY-MM-DD.
    async fn review_on(&self) -> Option<String> {
        self.0.review_on.map(|d| d.to_string())
    }
    /// Who or what raised it.
    async fn raised_by(&self) -> FlagRaisedBy {
        match &self.0.source {
            FlagSource::Person { user_id, organisation } => FlagRaisedBy {
                user_id: Some(user_id.clone()),
                organisation: Some(organisation.as_str().to_owned()),
                rule: None,
                rule_version: None,
            },
            FlagSource::Rule { rule, version } => FlagRaisedBy {
                user_id: None,
                organisation: None,
                rule: Some(rule.clone()),
                rule_version: i32::try_from(*version).ok(),
            },
        }
    }
    /// When it was raised (RFC 3339).
    async fn raised_at(&self) -> String {
        self.0.raised_at.to_rfc3339()
    }
    /// When it was last reviewed.
    async fn reviewed_at(&self) -> Option<String> {
        self.0.reviewed_at.map(|t| t.to_rfc3339())
    }
    /// Whether it still applies.
    async fn active(&self) -> bool {
        self.0.is_active()
    }
    /// When it was resolved.
    async fn resolved_at(&self) -> Option<String> {
        self.0.resolved_at.map(|t| t.to_rfc3339())
    }
    /// Why it was resolved.
    async fn resolution(&self) -> Option<&str> {
        self.0.resolution.as_deref()
    }
}

impl Flag {
    fn snomed(&self) -> Option<domain_flags::Snomed> {
        let score = self.0.frailty_score.and_then(|s| domain_flags::FrailtyScore::new(s).ok());
        domain_flags::snomed(self.0.kind, score)
    }
}

/// Where a patient is: the bed of their open stay.
pub struct Location(StayView);

#[Object]
impl Location {
    /// The open stay.
    async fn stay_id(&self) -> ID {
        ID(self.0.stay_id.clone())
    }
    /// The site (the bed's, from the bed board, as a transfer may cross sites).
    async fn site_id(&self, ctx: &Context<'_>) -> Result<ID, GqlError> {
        let bed = bed_reader(ctx)?.bed(&self.0.bed_id).await?;
        Ok(ID(bed.map_or_else(|| self.0.site_id.clone(), |b| b.site_id)))
    }
    /// The ward.
    async fn ward_id(&self) -> ID {
        ID(self.0.ward_id.clone())
    }
    /// The bed.
    async fn bed_id(&self) -> ID {
        ID(self.0.bed_id.clone())
    }
    /// The organisation whose bed it is (ODS code).
    async fn organisation(&self) -> Option<&str> {
        self.0.organisation.as_deref()
    }
    /// What staff call the bed (from the bed board).
    async fn bed_label(&self, ctx: &Context<'_>) -> Result<Option<String>, GqlError> {
        Ok(bed_reader(ctx)?.bed(&self.0.bed_id).await?.map(|b| b.label))
    }
    /// The ward's name (from the bed board).
    async fn ward_name(&self, ctx: &Context<'_>) -> Result<Option<String>, GqlError> {
        Ok(bed_reader(ctx)?.ward(&self.0.ward_id).await?.map(|w| w.name))
    }
    /// When the stay began (RFC 3339).
    async fn admitted_at(&self) -> String {
        self.0.admitted_at.to_rfc3339()
    }
    /// Expected discharge date.
    async fn expected_discharge_date(&self) -> Option<String> {
        self.0.expected_discharge_date.map(|d| d.to_string())
    }
    /// Discharge Ready Date, once medically optimised.
    async fn discharge_ready_date(&self) -> Option<String> {
        self.0.discharge_ready_date.map(|d| d.to_string())
    }
}

/// One event of a patient's timeline.
pub struct TimelineEntry(TimelineView);

#[Object]
impl TimelineEntry {
    /// Global position (a decimal string).
    async fn position(&self) -> String {
        self.0.position.to_string()
    }
    /// When it happened (RFC 3339).
    async fn at(&self) -> String {
        self.0.at.to_rfc3339()
    }
    /// The context that recorded it: `patients`, `flags` or `beds`.
    async fn context(&self) -> &str {
        &self.0.context
    }
    /// The event type.
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }
    /// What happened.
    async fn summary(&self) -> &str {
        &self.0.summary
    }
}
