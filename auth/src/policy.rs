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
}

impl Action {
    /// Every action.
    pub const ALL: [Action; 6] = [
        Action::ConfigureBeds,
        Action::UpdateBeds,
        Action::ViewBeds,
        Action::UpdatePatients,
        Action::UpdateFlags,
        Action::ViewPatients,
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
    #[error(
        "this patient has dissented from sharing their record: only organisations caring for them \
         may see it, and {actor_org} has no care relationship with them"
    )]
    Dissent {
        /// The actor's organisation.
        actor_org: String,
    },
}

/// Whether `role` may take `action` at all (in its own organisation).
pub fn role_allows(role: Role, action: Action) -> bool {
    use Role::*;
    match action {
        Action::ConfigureBeds => matches!(role, BedManager | Admin),
        Action::UpdateBeds => matches!(role, WardNurse | WardClerk | Housekeeping | BedManager | Admin),
        Action::ViewBeds => !matches!(role, CareProvider),
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
        Action::UpdateFlags => {
            matches!(
                role,
                WardNurse | SocialWorker | Therapist | CommunityNurse | VirtualWardClinician | Admin
            )
        }
        // Commissioners and analysts work from anonymised figures; a provider sees nothing
        // identifying before its offer is accepted (brokerage will grant that per placement).
        Action::ViewPatients => !matches!(role, Housekeeping | Commissioner | CareProvider | Analyst),
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

/// Whether `actor` may take `action` on something `owner` owns.
pub fn authorize(actor: &Actor, action: Action, owner: Owner<'_>) -> Result<(), Denied> {
    if !role_allows(actor.role, action) {
        return Err(Denied::Role { role: actor.role, action: action.describe() });
    }
    match owner {
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
        let table: [(Role, [bool; 6]); 13] = [
            //                  beds: configure, update, view; patients: update; flags: update; patients: view
            (WardNurse, [false, true, true, true, true, true]),
            (WardClerk, [false, true, true, true, false, true]),
            (Housekeeping, [false, true, true, false, false, false]),
            (BedManager, [true, true, true, true, false, true]),
            (SocialWorker, [false, false, true, true, true, true]),
            (Therapist, [false, false, true, true, true, true]),
            (CommunityNurse, [false, false, true, true, true, true]),
            (VirtualWardClinician, [false, false, true, true, true, true]),
            (Broker, [false, false, true, false, false, true]),
            (Commissioner, [false, false, true, false, false, false]),
            (CareProvider, [false, false, false, false, false, false]),
            (Analyst, [false, false, true, false, false, false]),
            (Admin, [true, true, true, true, true, true]),
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

    /// Nobody, admins included, acts on another organisation's resources.
    #[test]
    fn organisations_are_kept_apart() {
        for role in Role::ALL {
            for action in Action::ALL {
                let other = authorize(&actor(role, "RXA"), action, Owner::Organisation("RYC"));
                assert!(other.is_err(), "{role} {action:?} of another organisation");
                if role_allows(role, action) {
                    let message = other.unwrap_err().to_string();
                    assert!(message.contains("RXA") && message.contains("RYC"), "{message}");
                }
                let unrecorded = authorize(&actor(role, "RXA"), action, Owner::Unrecorded);
                assert_eq!(unrecorded.is_ok(), role == Role::Admin, "{role} {action:?} unrecorded");
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
                let expected = role_allows(role, Action::UpdatePatients) && org != "RYC";
                assert_eq!(allowed.is_ok(), expected, "{role} of {org}");
            }
            assert!(authorize(&actor(role, "RXA"), Action::UpdatePatients, Owner::AnyOf(&[])).is_err());
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
}
