//! The access policy: the one place that says who may do what (DESIGN.md §2, "Organisations
//! and access"). The services ask it before every command and the gateway before every read;
//! nothing else decides access.
//!
//! A write is allowed to a member of the organisation that owns what it changes (the site a
//! ward or bed belongs to) whose role may take that action; an admin may take any action, but
//! only within their own organisation. Something recorded before owners were recorded has no
//! owner: only an admin may change it.
//!
//! Depends on nothing but the actor: the caller says which organisation owns the resource
//! (the services learn it from the loaded streams).

use std::fmt;

use crate::{Actor, Role};

/// What someone may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Register sites, configure wards, add beds.
    ConfigureBeds,
    /// Change bed state: admit, transfer, discharge, clean, block, reserve, dates.
    UpdateBeds,
    /// See bed state and capacity.
    ViewBeds,
    /// Register patients in the MPI, change their demographics, record dissent and death.
    UpdatePatients,
    /// Raise, review and resolve flags.
    UpdateFlags,
    /// See a patient's record (summary, flags, location, timeline) and search the MPI.
    ViewPatients,
    /// Configure teams, the routing rules that send them work, and the flag rules.
    ConfigureTeams,
    /// Create tasks, and claim, hand off, comment on, complete and cancel one's team's tasks.
    UpdateTasks,
    /// See one's team's inbox and tasks.
    ViewTasks,
    /// Fire the deadlines that fall due (careflow's clock only).
    FireTimers,
    /// Publish assessment templates (a new version of one).
    ConfigureTemplates,
    /// Start assessments and work on them (the template's section roles decide which
    /// sections), submit and reopen them.
    UpdateAssessments,
    /// Accept or return an assessment submitted to one's organisation.
    ReceiveAssessments,
    /// See assessments and their templates.
    ViewAssessments,
    /// Apply the workflow rules that raise flags (careflow's own workflows only).
    ApplyRules,
    /// Configure virtual wards (their site, pathway, virtual beds).
    ConfigureVirtualWards,
    /// Admit to a virtual ward, change a monitoring plan, discharge.
    UpdateVirtualWards,
    /// Put a patient on SpO2 scale 2 (a target of 88–92%): a clinician's decision.
    SetOxygenTarget,
    /// Record observation sets of virtual-ward patients.
    RecordObservations,
    /// See a virtual ward's census and its patients' observation charts.
    ViewVirtualWards,
    /// As a care provider: register, keep vacancies and rates, offer, withdraw offers, hand a
    /// placement back.
    OfferCare,
    /// As a council's broker: post, withdraw, re-post and cancel care requests, accept offers.
    BrokerCare,
    /// As a commissioner: set the council's ranking rule, record CQC ratings, suspend and
    /// reinstate providers.
    CommissionCare,
    /// See the care market: requests and offers (what of the person, the policy decides).
    ViewMarket,
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 24] = [
        Action::ConfigureBeds,
        Action::UpdateBeds,
        Action::ViewBeds,
        Action::UpdatePatients,
        Action::UpdateFlags,
        Action::ViewPatients,
        Action::ConfigureTeams,
        Action::UpdateTasks,
        Action::ViewTasks,
        Action::FireTimers,
        Action::ConfigureTemplates,
        Action::UpdateAssessments,
        Action::ReceiveAssessments,
        Action::ViewAssessments,
        Action::ApplyRules,
        Action::ConfigureVirtualWards,
        Action::UpdateVirtualWards,
        Action::SetOxygenTarget,
        Action::RecordObservations,
        Action::ViewVirtualWards,
        Action::OfferCare,
        Action::BrokerCare,
        Action::CommissionCare,
        Action::ViewMarket,
    ];

    /// What the action is, for messages ("change bed state").
    pub fn describe(self) -> &'static str {
        match self {
            Action::ConfigureBeds => "configure sites, wards and beds",
            Action::UpdateBeds => "change bed state",
            Action::ViewBeds => "see the bed board",
            Action::UpdatePatients => "change patient records",
            Action::UpdateFlags => "raise or change flags",
            Action::ViewPatients => "see patient records",
            Action::ConfigureTeams => "configure teams and workflow rules",
            Action::UpdateTasks => "work on tasks",
            Action::ViewTasks => "see team inboxes and tasks",
            Action::FireTimers => "fire deadlines",
            Action::ConfigureTemplates => "publish assessment templates",
            Action::UpdateAssessments => "work on assessments",
            Action::ReceiveAssessments => "accept or return assessments",
            Action::ViewAssessments => "see assessments",
            Action::ApplyRules => "apply workflow rules",
            Action::ConfigureVirtualWards => "configure virtual wards",
            Action::UpdateVirtualWards => "admit to and discharge from virtual wards",
            Action::SetOxygenTarget => "set an oxygen saturation target (SpO2 scale 2)",
            Action::RecordObservations => "record observations",
            Action::ViewVirtualWards => "see virtual wards",
            Action::OfferCare => "offer care",
            Action::BrokerCare => "broker care",
            Action::CommissionCare => "commission care",
            Action::ViewMarket => "see the care market",
        }
    }
}

/// Which organisation owns what an action touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner<'a> {
    /// Something new that the actor's organisation will own (a site being registered), or
    /// something every organisation may act on.
    Actor,
    /// Owned by this organisation (ODS code).
    Organisation(&'a str),
    /// Recorded before owners were: only an admin may change it.
    Unrecorded,
    /// Any one of these organisations may act (the organisations caring for a patient who
    /// dissents from sharing); none listed: nobody.
    AnyOf(&'a [String]),
}

/// Why the policy said no. The message names the role or organisation, never a patient.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The role may not take the action anywhere.
    #[error("role {role} may not {action}")]
    Role {
        /// The actor's role.
        role: Role,
        /// What was attempted.
        action: &'static str,
    },
    /// The actor's organisation does not own what the action touches.
    #[error("{actor_org} may not {action} of {owner_org}: only members of {owner_org} may")]
    Organisation {
        /// The actor's organisation.
        actor_org: String,
        /// The owner.
        owner_org: String,
        /// What was attempted.
        action: &'static str,
    },
    /// The patient dissents from sharing and the actor's organisation is not caring for them.
    /// Said as "not found" would leak less, but staff need to know why a record is hidden.
    ///
    /// (See [`Denied::NotAMember`] for teams.)
    #[error(
        "this patient has dissented from sharing their record: only organisations caring for them \
         may see it, and {actor_org} has no care relationship with them"
    )]
    Dissent {
        /// The actor's organisation.
        actor_org: String,
    },
    /// An assessment seen only by its assessing and receiving organisations (a care provider
    /// sees only what is submitted to it).
    #[error(
        "only the assessing organisation and those it was submitted to may see this assessment, and {actor_org} is neither"
    )]
    NotAReceiver {
        /// The actor's organisation.
        actor_org: String,
    },
    /// A care provider sees only the requests it may offer on, has offered on, or was awarded.
    #[error("{actor_org} is not eligible for this care request and has made no offer on it")]
    NotEligible {
        /// The actor's organisation.
        actor_org: String,
    },
    /// The actor is not a member of the team whose work it is.
    #[error("only members of team {teams} may {action}")]
    NotAMember {
        /// The team (or teams).
        teams: String,
        /// What was attempted.
        action: &'static str,
    },
}

/// Whether `role` may take `action` at all (in its own organisation).
pub fn role_allows(role: Role, action: Action) -> bool {
    use Role::*;
    match action {
        Action::ConfigureBeds => matches!(role, BedManager | Admin),
        // careflow marks a bed cleaned when housekeeping completes its cleaning task.
        Action::UpdateBeds => {
            matches!(role, WardNurse | WardClerk | Housekeeping | BedManager | Admin | Careflow)
        }
        Action::ViewBeds => !matches!(role, CareProvider | DeviceGateway | Careflow),
        Action::UpdatePatients => matches!(
            role,
            WardNurse
                | WardClerk
                | BedManager
                | SocialWorker
                | Therapist
                | CommunityNurse
                | VirtualWardClinician
                | Admin
        ),
        // careflow raises the flags its flag rules say.
        Action::UpdateFlags => matches!(
            role,
            WardNurse | SocialWorker | Therapist | CommunityNurse | VirtualWardClinician | Admin | Careflow
        ),
        // Commissioners and analysts work from anonymised figures; a provider sees nothing
        // identifying before its offer is accepted (brokerage will grant that per placement).
        Action::ViewPatients => {
            !matches!(role, Housekeeping | Commissioner | CareProvider | Analyst | DeviceGateway | Careflow)
        }
        Action::ConfigureTeams => matches!(role, Admin),
        // Analysts and commissioners work from figures, not inboxes.
        Action::UpdateTasks => !matches!(role, Analyst | Commissioner | DeviceGateway),
        Action::ViewTasks => !matches!(role, Analyst | Commissioner | DeviceGateway | Careflow),
        Action::FireTimers => matches!(role, Careflow),
        Action::ConfigureTemplates => matches!(role, Admin),
        Action::ApplyRules => matches!(role, Careflow),
        // Those who assess; brokers and care providers receive (and may not look a patient up
        // by starting an assessment).
        Action::UpdateAssessments => {
            matches!(
                role,
                WardNurse | SocialWorker | Therapist | CommunityNurse | VirtualWardClinician | Admin
            )
        }
        Action::ReceiveAssessments => matches!(role, SocialWorker | Broker | CareProvider | Admin),
        // Whoever sees patient records, and the care providers an assessment is submitted to.
        Action::ViewAssessments => role_allows(role, Action::ViewPatients) || role == CareProvider,
        Action::ConfigureVirtualWards => matches!(role, BedManager | Admin),
        Action::UpdateVirtualWards => {
            matches!(role, VirtualWardClinician | CommunityNurse | WardNurse | Admin)
        }
        Action::SetOxygenTarget => matches!(role, VirtualWardClinician),
        // careflow's clock marks readings missed (with FireTimers); devices send readings.
        Action::RecordObservations => {
            matches!(role, VirtualWardClinician | CommunityNurse | WardNurse | DeviceGateway | Admin)
        }
        // Clinical staff of the ward's organisation (and, for one patient's chart, anyone who
        // may see that patient's record).
        Action::ViewVirtualWards => role_allows(role, Action::ViewPatients),
        Action::OfferCare => matches!(role, CareProvider | Admin),
        Action::BrokerCare => matches!(role, Broker | Admin),
        // Ratings and suspensions decide awards: a commissioner's, never an admin's (a care
        // home's own admin would otherwise rate its competitors).
        Action::CommissionCare => matches!(role, Commissioner),
        Action::ViewMarket => matches!(role, Broker | Commissioner | CareProvider | Admin),
    }
}

/// What the policy needs to know of a team to decide who may see its work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TeamAccess<'a> {
    /// The team's id.
    pub team_id: &'a str,
    /// The team's organisation.
    pub organisation: &'a str,
    /// The actor is the team's lead or a configured member (the teams their token names are
    /// checked here too, within the token's organisation).
    pub member: bool,
}

/// Whether `actor` may take `action` (seeing an inbox, a task) on the work of `teams` (the
/// owning team, and one a task is offered to): members of any of them may, and so may admins
/// and bed managers of their organisations, who oversee their teams' work.
pub fn authorize_team(actor: &Actor, action: Action, teams: &[TeamAccess<'_>]) -> Result<(), Denied> {
    if !role_allows(actor.role, action) {
        return Err(Denied::Role { role: actor.role, action: action.describe() });
    }
    let admits = |team: &TeamAccess<'_>| {
        team.member
            // A token's teams count only within the token's organisation.
            || (team.organisation == actor.organisation && actor.teams.iter().any(|t| t == team.team_id))
            || (team.organisation == actor.organisation
                && matches!(actor.role, Role::Admin | Role::BedManager))
    };
    if teams.iter().any(admits) {
        Ok(())
    } else {
        Err(Denied::NotAMember {
            teams: teams.iter().map(|t| t.team_id).collect::<Vec<_>>().join(", "),
            action: action.describe(),
        })
    }
}

/// What the policy needs to know of a patient to decide who may see their record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PatientAccess<'a> {
    /// The patient dissents from sharing.
    pub dissent: bool,
    /// The organisations with a direct care relationship with them (an open stay; their GP
    /// practice; later an open task, assessment, virtual-ward admission or care request).
    pub caring: &'a [String],
}

/// Whether `actor` may see the record of a patient (`action` is [`Action::ViewPatients`]): the
/// role must allow it, and a patient who dissents from sharing is seen only by organisations
/// caring for them. The message never names the patient.
pub fn authorize_patient(actor: &Actor, action: Action, patient: PatientAccess<'_>) -> Result<(), Denied> {
    if !role_allows(actor.role, action) {
        return Err(Denied::Role { role: actor.role, action: action.describe() });
    }
    if patient.dissent && !patient.caring.contains(&actor.organisation) {
        return Err(Denied::Dissent { actor_org: actor.organisation.clone() });
    }
    Ok(())
}

/// What the policy needs to know of an assessment to decide who may see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AssessmentAccess<'a> {
    /// The patient it is of.
    pub patient: PatientAccess<'a>,
    /// The assessing organisation (which started it).
    pub organisation: &'a str,
    /// The organisations it was submitted to (a council, a care provider).
    pub receivers: &'a [String],
}

/// Whether `actor` may see an assessment (`action` is [`Action::ViewAssessments`]): the
/// assessing organisation and the organisations it was submitted to always may; anyone else
/// whose role sees patient records may as they would the patient's record (not when the
/// patient dissents and their organisation is not caring for them); a care provider sees only
/// the assessments submitted to it. The message never names the patient.
pub fn authorize_assessment(
    actor: &Actor,
    action: Action,
    assessment: AssessmentAccess<'_>,
) -> Result<(), Denied> {
    if !role_allows(actor.role, action) {
        return Err(Denied::Role { role: actor.role, action: action.describe() });
    }
    let org = actor.organisation.as_str();
    if assessment.organisation == org || assessment.receivers.iter().any(|r| r == org) {
        return Ok(());
    }
    if !role_allows(actor.role, Action::ViewPatients) {
        return Err(Denied::NotAReceiver { actor_org: actor.organisation.clone() });
    }
    authorize_patient(actor, Action::ViewPatients, assessment.patient)
}

/// What the policy needs to know of a virtual ward (its census) or one of its admissions (a
/// patient's observation chart) to decide who may see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtualWardAccess<'a> {
    /// The ward's organisation.
    pub organisation: &'a str,
    /// For one admission, its patient (`None`: the whole census, which only the ward's
    /// organisation sees).
    pub patient: Option<PatientAccess<'a>>,
}

/// Whether `actor` may see a virtual ward's census or one patient's chart (`action` is
/// [`Action::ViewVirtualWards`]): the ward's organisation always may; a patient's chart, anyone
/// else who may see the patient's record too (a step-down patient's hospital ward, say). The
/// message never names the patient.
pub fn authorize_virtual_ward(
    actor: &Actor,
    action: Action,
    ward: VirtualWardAccess<'_>,
) -> Result<(), Denied> {
    if !role_allows(actor.role, action) {
        return Err(Denied::Role { role: actor.role, action: action.describe() });
    }
    if ward.organisation == actor.organisation {
        return Ok(());
    }
    match ward.patient {
        Some(patient) => authorize_patient(actor, Action::ViewPatients, patient),
        None => Err(Denied::Organisation {
            actor_org: actor.organisation.clone(),
            owner_org: ward.organisation.to_owned(),
            action: action.describe(),
        }),
    }
}

/// What the policy needs to know of a care request to decide who may see it, and how much.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CareRequestAccess<'a> {
    /// The council that posted it.
    pub organisation: &'a str,
    /// The actor's organisation may offer on it (a provider that offers the care, serves the
    /// district, has the capacity, and is not suspended).
    pub eligible: bool,
    /// The actor's organisation has offered on it.
    pub offered: bool,
    /// The actor's organisation holds its placement.
    pub awarded: bool,
}

/// How much of the person behind a care request the actor may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    /// Who they are (name, NHS number, date of birth, address) and the whole assessment.
    Identified,
    /// The care needed, the district, the dates and the care-needs summary: nothing
    /// identifying.
    Anonymous,
}

/// Whether `actor` may see a care request (`action` is [`Action::ViewMarket`]), and how much:
/// the council that posted it, identified to those of its roles that see patient records
/// (brokers) and anonymous to the rest (commissioners); a care provider, identified once its
/// offer is accepted, anonymous while it is eligible or has offered, and not at all otherwise.
/// Nobody else. The message never names the person.
pub fn authorize_care_request(
    actor: &Actor,
    action: Action,
    request: CareRequestAccess<'_>,
) -> Result<Disclosure, Denied> {
    if !role_allows(actor.role, action) {
        return Err(Denied::Role { role: actor.role, action: action.describe() });
    }
    if request.organisation == actor.organisation {
        return Ok(if role_allows(actor.role, Action::ViewPatients) {
            Disclosure::Identified
        } else {
            Disclosure::Anonymous
        });
    }
    if actor.role == Role::CareProvider || (actor.role == Role::Admin && (request.offered || request.awarded))
    {
        if request.awarded {
            return Ok(Disclosure::Identified);
        }
        if request.eligible || request.offered {
            return Ok(Disclosure::Anonymous);
        }
        return Err(Denied::NotEligible { actor_org: actor.organisation.clone() });
    }
    Err(Denied::Organisation {
        actor_org: actor.organisation.clone(),
        owner_org: request.organisation.to_owned(),
        action: action.describe(),
    })
}

/// Whether `actor` may see council `council`'s care market (`action` is
/// [`Action::ViewMarket`]): its brokers, identified; its commissioners, anonymous. A care
/// provider sees the market only as the requests it may offer on, one by one
/// ([`authorize_care_request`]).
pub fn authorize_market(actor: &Actor, action: Action, council: &str) -> Result<Disclosure, Denied> {
    if !role_allows(actor.role, action) || actor.role == Role::CareProvider {
        return Err(Denied::Role { role: actor.role, action: action.describe() });
    }
    if council != actor.organisation {
        return Err(Denied::Organisation {
            actor_org: actor.organisation.clone(),
            owner_org: council.to_owned(),
            action: action.describe(),
        });
    }
    Ok(if role_allows(actor.role, Action::ViewPatients) {
        Disclosure::Identified
    } else {
        Disclosure::Anonymous
    })
}

/// Whether `actor` may take `action` on something `owner` owns.
pub fn authorize(actor: &Actor, action: Action, owner: Owner<'_>) -> Result<(), Denied> {
    if !role_allows(actor.role, action) {
        return Err(Denied::Role { role: actor.role, action: action.describe() });
    }
    match owner {
        // careflow's own workflows and clock act for every organisation, on what their role
        // allows (never a read).
        _ if actor.role == Role::Careflow => Ok(()),
        Owner::Actor => Ok(()),
        Owner::Organisation(org) if org == actor.organisation => Ok(()),
        Owner::Unrecorded if actor.role == Role::Admin => Ok(()),
        Owner::AnyOf(orgs) if orgs.contains(&actor.organisation) => Ok(()),
        Owner::AnyOf(_) => Err(Denied::Dissent { actor_org: actor.organisation.clone() }),
        Owner::Organisation(org) => Err(Denied::Organisation {
            actor_org: actor.organisation.clone(),
            owner_org: org.to_owned(),
            action: action.describe(),
        }),
        Owner::Unrecorded => Err(Denied::Organisation {
            actor_org: actor.organisation.clone(),
            owner_org: "an organisation not recorded".to_owned(),
            action: action.describe(),
        }),
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn actor(role: Role, org: &str) -> Actor {
        Actor { user_id: format!("{role}.{org}"), role, organisation: org.into(), teams: Vec::new() }
    }

    /// Every role against every action: who may, in their own organisation.
    #[test]
    fn the_role_table() {
        use Role::*;
        #[rustfmt::skip]
        let table: [(Role, [bool; 24]); 15] = [
            //      beds: configure, update, view; patients: update; flags: update; patients: view;
            //      teams: configure; tasks: update, view; timers: fire;
            //      templates: configure; assessments: update, receive, view; rules: apply;
            //      virtual wards: configure, update, oxygen target, record observations, view;
            //      brokerage: offer, broker, commission, view the market
            (WardNurse,            [false, true,  true,  true,  true,  true,  false, true,  true,  false, false, true,  false, true,  false, false, true,  false, true,  true, false, false, false, false]),
            (WardClerk,            [false, true,  true,  true,  false, true,  false, true,  true,  false, false, false, false, true,  false, false, false, false, false, true, false, false, false, false]),
            (Housekeeping,         [false, true,  true,  false, false, false, false, true,  true,  false, false, false, false, false, false, false, false, false, false, false, false, false, false, false]),
            (BedManager,           [true,  true,  true,  true,  false, true,  false, true,  true,  false, false, false, false, true,  false, true,  false, false, false, true, false, false, false, false]),
            (SocialWorker,         [false, false, true,  true,  true,  true,  false, true,  true,  false, false, true,  true,  true,  false, false, false, false, false, true, false, false, false, false]),
            (Therapist,            [false, false, true,  true,  true,  true,  false, true,  true,  false, false, true,  false, true,  false, false, false, false, false, true, false, false, false, false]),
            (CommunityNurse,       [false, false, true,  true,  true,  true,  false, true,  true,  false, false, true,  false, true,  false, false, true,  false, true,  true, false, false, false, false]),
            (VirtualWardClinician, [false, false, true,  true,  true,  true,  false, true,  true,  false, false, true,  false, true,  false, false, true,  true,  true,  true, false, false, false, false]),
            (Broker,               [false, false, true,  false, false, true,  false, true,  true,  false, false, false, true,  true,  false, false, false, false, false, true, false, true,  false, true]),
            (Commissioner,         [false, false, true,  false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, true,  true]),
            (CareProvider,         [false, false, false, false, false, false, false, true,  true,  false, false, false, true,  true,  false, false, false, false, false, false, true,  false, false, true]),
            (Analyst,              [false, false, true,  false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false]),
            (Admin,                [true,  true,  true,  true,  true,  true,  true,  true,  true,  false, true,  true,  true,  true,  false, true,  true,  false, true,  true,  true,  true,  false, true]),
            (DeviceGateway,        [false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, false, true,  false, false, false, false, false]),
            (Careflow,             [false, true,  false, false, true,  false, false, true,  false, true,  false, false, false, false, true, false, false, false, false, false, false, false, false, false]),
        ];
        assert_eq!(table.len(), Role::ALL.len(), "every role has a row");
        for (role, allowed) in table {
            for (action, allowed) in Action::ALL.into_iter().zip(allowed) {
                assert_eq!(role_allows(role, action), allowed, "{role} {action:?}");
                let own = authorize(&actor(role, "RXA"), action, Owner::Organisation("RXA"));
                assert_eq!(own.is_ok(), allowed, "{role} {action:?} in its own organisation");
                let new = authorize(&actor(role, "RXA"), action, Owner::Actor);
                assert_eq!(new.is_ok(), allowed, "{role} {action:?} on something new");
            }
        }
    }

    /// Nobody, admins included, acts on another organisation's resources; only careflow's own
    /// workflows and clock act for every organisation.
    #[test]
    fn organisations_are_kept_apart() {
        for action in Action::ALL {
            let careflow = authorize(&actor(Role::Careflow, "careflow"), action, Owner::Organisation("RYC"));
            assert_eq!(careflow.is_ok(), role_allows(Role::Careflow, action), "careflow {action:?}");
        }
        for role in Role::ALL.into_iter().filter(|r| *r != Role::Careflow) {
            for action in Action::ALL {
                let other = authorize(&actor(role, "RXA"), action, Owner::Organisation("RYC"));
                assert!(other.is_err(), "{role} {action:?} of another organisation");
                if role_allows(role, action) {
                    let message = other.unwrap_err().to_string();
                    assert!(message.contains("RXA") && message.contains("RYC"), "{message}");
                }
                let unrecorded = authorize(&actor(role, "RXA"), action, Owner::Unrecorded);
                assert_eq!(
                    unrecorded.is_ok(),
                    role == Role::Admin && role_allows(role, action),
                    "{role} {action:?} unrecorded"
                );
            }
        }
    }

    /// A change to a dissenting patient's record: only the organisations caring for them.
    #[test]
    fn changes_to_a_dissenting_patients_record_need_a_care_relationship() {
        let caring = ["RXA".to_owned(), "B86001".to_owned()];
        for role in Role::ALL {
            for org in ["RXA", "B86001", "RYC"] {
                let allowed = authorize(&actor(role, org), Action::UpdatePatients, Owner::AnyOf(&caring));
                let expected =
                    role_allows(role, Action::UpdatePatients) && (org != "RYC" || role == Role::Careflow);
                assert_eq!(allowed.is_ok(), expected, "{role} of {org}");
            }
            if role != Role::Careflow {
                assert!(authorize(&actor(role, "RXA"), Action::UpdatePatients, Owner::AnyOf(&[])).is_err());
            }
        }
    }

    /// Every role against a patient's record: without dissent, with dissent and a care
    /// relationship, with dissent and none.
    #[test]
    fn the_patient_record_table() {
        let caring = ["RXA".to_owned(), "B86001".to_owned()];
        let shared = PatientAccess { dissent: false, caring: &caring };
        let dissent = PatientAccess { dissent: true, caring: &caring };
        for role in Role::ALL {
            let may = role_allows(role, Action::ViewPatients);
            for org in ["RXA", "B86001", "RYC"] {
                let actor = actor(role, org);
                let open = authorize_patient(&actor, Action::ViewPatients, shared);
                assert_eq!(open.is_ok(), may, "{role} of {org}, no dissent");
                let hidden = authorize_patient(&actor, Action::ViewPatients, dissent);
                assert_eq!(hidden.is_ok(), may && org != "RYC", "{role} of {org}, dissent");
                if may && org == "RYC" {
                    let message = hidden.unwrap_err().to_string();
                    assert!(message.contains("dissented") && message.contains("RYC"), "{message}");
                }
            }
        }
        // Nobody outside the caring organisations, whatever the role, once there are none.
        let nobody = PatientAccess { dissent: true, caring: &[] };
        assert!(
            Role::ALL
                .iter()
                .all(|r| authorize_patient(&actor(*r, "RXA"), Action::ViewPatients, nobody).is_err())
        );
    }

    /// Every role against an assessment: of the assessing organisation, of a receiver, of a
    /// third organisation; with and without the patient's dissent.
    #[test]
    fn the_assessment_table() {
        let caring = ["RXA".to_owned()];
        let receivers = ["LA001".to_owned()];
        let of = |dissent| AssessmentAccess {
            patient: PatientAccess { dissent, caring: &caring },
            organisation: "RXA",
            receivers: &receivers,
        };
        for role in Role::ALL {
            let may = role_allows(role, Action::ViewAssessments);
            let sees_records = role_allows(role, Action::ViewPatients);
            for dissent in [false, true] {
                for org in ["RXA", "LA001", "RYC"] {
                    let seen = authorize_assessment(&actor(role, org), Action::ViewAssessments, of(dissent));
                    let party = org != "RYC";
                    let expected = may && (party || (sees_records && !dissent));
                    assert_eq!(seen.is_ok(), expected, "{role} of {org}, dissent {dissent}");
                    if may && !expected {
                        let message = seen.unwrap_err().to_string();
                        assert!(message.contains("RYC"), "{message}");
                    }
                }
            }
        }
        // A care provider sees what is submitted to it, and nothing else.
        let provider = actor(Role::CareProvider, "VN123");
        assert!(authorize_assessment(&provider, Action::ViewAssessments, of(false)).is_err());
        let to_provider = ["VN123".to_owned()];
        let submitted = AssessmentAccess { receivers: &to_provider, ..of(false) };
        assert!(authorize_assessment(&provider, Action::ViewAssessments, submitted).is_ok());
    }

    /// Every role against a virtual ward's census and one of its patients' charts: of the
    /// ward's organisation, of another; the chart with and without the patient's dissent.
    #[test]
    fn the_virtual_ward_table() {
        let caring = ["RXA".to_owned()];
        let census = VirtualWardAccess { organisation: "RXA", patient: None };
        let chart = |dissent| VirtualWardAccess {
            organisation: "RXA",
            patient: Some(PatientAccess { dissent, caring: &caring }),
        };
        for role in Role::ALL {
            let may = role_allows(role, Action::ViewVirtualWards);
            assert_eq!(may, role_allows(role, Action::ViewPatients), "{role}");
            let own = authorize_virtual_ward(&actor(role, "RXA"), Action::ViewVirtualWards, census);
            assert_eq!(own.is_ok(), may, "{role} of the ward's organisation, census");
            let other = authorize_virtual_ward(&actor(role, "RYC"), Action::ViewVirtualWards, census);
            assert!(other.is_err(), "{role} of another organisation, census");
            if may {
                let message = other.unwrap_err().to_string();
                assert!(message.contains("RYC") && message.contains("RXA"), "{message}");
            }
            for dissent in [false, true] {
                let own =
                    authorize_virtual_ward(&actor(role, "RXA"), Action::ViewVirtualWards, chart(dissent));
                assert_eq!(own.is_ok(), may, "{role} of the ward's organisation, chart, dissent {dissent}");
                let other =
                    authorize_virtual_ward(&actor(role, "RYC"), Action::ViewVirtualWards, chart(dissent));
                assert_eq!(
                    other.is_ok(),
                    may && !dissent,
                    "{role} of another organisation, chart, dissent {dissent}"
                );
            }
        }
        // Only a virtual ward clinician puts a patient on SpO2 scale 2; a device only records.
        let setters: Vec<Role> =
            Role::ALL.into_iter().filter(|r| role_allows(*r, Action::SetOxygenTarget)).collect();
        assert_eq!(setters, [Role::VirtualWardClinician]);
        let device: Vec<Action> =
            Action::ALL.into_iter().filter(|a| role_allows(Role::DeviceGateway, *a)).collect();
        assert_eq!(device, [Action::RecordObservations]);
    }

    /// Every role against a care request: of the council that posted it, of another council,
    /// and as a provider: not eligible, eligible, having offered, awarded.
    #[test]
    fn the_care_request_table() {
        use Disclosure::*;
        let of = |eligible, offered, awarded| CareRequestAccess {
            organisation: "LA001",
            eligible,
            offered,
            awarded,
        };
        let none = of(false, false, false);
        for role in Role::ALL {
            let may = role_allows(role, Action::ViewMarket);
            let council = authorize_care_request(&actor(role, "LA001"), Action::ViewMarket, none);
            let expected = match role {
                Role::Broker | Role::Admin => Some(Identified),
                Role::Commissioner | Role::CareProvider => Some(Anonymous),
                _ => None,
            };
            assert_eq!(council.ok(), expected, "{role} of the council");
            assert_eq!(may, expected.is_some(), "{role}");
            let other = authorize_care_request(&actor(role, "LA002"), Action::ViewMarket, none);
            assert!(other.is_err(), "{role} of another council");
            for (eligible, offered, awarded, provider_sees) in [
                (false, false, false, None),
                (true, false, false, Some(Anonymous)),
                (false, true, false, Some(Anonymous)),
                (true, true, false, Some(Anonymous)),
                (false, true, true, Some(Identified)),
            ] {
                let seen = authorize_care_request(
                    &actor(role, "VN001"),
                    Action::ViewMarket,
                    of(eligible, offered, awarded),
                );
                let expected = match role {
                    Role::CareProvider => provider_sees,
                    // An admin of a provider, on what their organisation offered.
                    Role::Admin if offered || awarded => provider_sees,
                    _ => None,
                };
                assert_eq!(
                    seen.clone().ok(),
                    expected,
                    "{role} of a provider: eligible {eligible}, offered {offered}, awarded {awarded}"
                );
                if role == Role::CareProvider && expected.is_none() {
                    let message = seen.unwrap_err().to_string();
                    assert!(message.contains("VN001") && message.contains("not eligible"), "{message}");
                }
            }
        }
        // The whole market: the council's brokers (identified) and commissioners (anonymous).
        for role in Role::ALL {
            let own = authorize_market(&actor(role, "LA001"), Action::ViewMarket, "LA001").ok();
            let expected = match role {
                Role::Broker | Role::Admin => Some(Identified),
                Role::Commissioner => Some(Anonymous),
                _ => None,
            };
            assert_eq!(own, expected, "{role}, the market of its council");
            assert!(authorize_market(&actor(role, "LA002"), Action::ViewMarket, "LA001").is_err(), "{role}");
        }
        // Who acts in the market: providers offer, brokers broker, commissioners commission.
        let acting =
            |action| -> Vec<Role> { Role::ALL.into_iter().filter(|r| role_allows(*r, action)).collect() };
        assert_eq!(acting(Action::OfferCare), [Role::CareProvider, Role::Admin]);
        assert_eq!(acting(Action::BrokerCare), [Role::Broker, Role::Admin]);
        assert_eq!(acting(Action::CommissionCare), [Role::Commissioner]);
    }

    /// Every role against a team's work: as a member (configured or by token), as a manager of
    /// the team's organisation, from the same organisation, from another.
    #[test]
    fn the_team_work_table() {
        let team = |member| TeamAccess { team_id: "RYC-HSWT", organisation: "RYC", member };
        for role in Role::ALL {
            let may = role_allows(role, Action::ViewTasks);
            let manager = matches!(role, Role::Admin | Role::BedManager);
            let member = authorize_team(&actor(role, "RYC"), Action::ViewTasks, &[team(true)]);
            assert_eq!(member.is_ok(), may, "{role}, a configured member");
            let mut by_token = actor(role, "RYC");
            by_token.teams = vec!["RYC-HSWT".into()];
            let token = authorize_team(&by_token, Action::ViewTasks, &[team(false)]);
            assert_eq!(token.is_ok(), may, "{role}, a member by token");
            // A token of another organisation naming the team is not a member.
            by_token.organisation = "RXA".into();
            let elsewhere = authorize_team(&by_token, Action::ViewTasks, &[team(false)]);
            assert!(elsewhere.is_err(), "{role}, a token of another organisation naming the team");
            let same_org = authorize_team(&actor(role, "RYC"), Action::ViewTasks, &[team(false)]);
            assert_eq!(same_org.is_ok(), may && manager, "{role} of the team's organisation");
            let other_org = authorize_team(&actor(role, "RXA"), Action::ViewTasks, &[team(false)]);
            assert!(other_org.is_err(), "{role} of another organisation");
            if may {
                let message = other_org.unwrap_err().to_string();
                assert!(message.contains("RYC-HSWT"), "{message}");
            }
            // A task offered to a second team: its members see it too.
            let offered = TeamAccess { team_id: "RXA-DN", organisation: "RXA", member: true };
            let both = authorize_team(&actor(role, "RXA"), Action::ViewTasks, &[team(false), offered]);
            assert_eq!(both.is_ok(), may, "{role}, a member of the receiving team");
        }
    }
}
