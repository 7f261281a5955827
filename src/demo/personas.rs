//! The demo's people, for the web app's development sign-in (`/dev/personas`): one or two for
//! each kind of work the demo has teams for. Their user ids are the demo teams' members
//! (`1.<team>`) and leads (`lead.<team>`), so their inboxes are full; the names are invented.

use careflow_auth::Role;
use careflow_gateway::Persona;

/// One demo person: user id, name, what they do, role, organisation, teams.
type Person = (&'static str, &'static str, &'static str, Role, &'static str, &'static [&'static str]);

/// Who one may sign in as.
const PEOPLE: [Person; 14] = [
    (
        "1.rxa01-amu-team",
        "Grace Okafor",
        "Ward nurse, Acute Medical Unit, Northgate General",
        Role::WardNurse,
        "RXA",
        &["RXA01-AMU-TEAM"],
    ),
    (
        "lead.rxa01-oak-team",
        "Tom Birchall",
        "Nurse in charge, Oak Ward, Northgate General",
        Role::WardNurse,
        "RXA",
        &["RXA01-OAK-TEAM"],
    ),
    (
        "1.rxa01-housekeeping",
        "Lina Marsh",
        "Housekeeper, Northgate General",
        Role::Housekeeping,
        "RXA",
        &["RXA01-HOUSEKEEPING"],
    ),
    (
        "site.manager.rxa",
        "Priya Castell",
        "Site and bed manager, the acute trust",
        Role::BedManager,
        "RXA",
        &[],
    ),
    (
        "1.la001-hswt",
        "Sam Whitlow",
        "Social worker, Airedale Council hospital social work team",
        Role::SocialWorker,
        "LA001",
        &["LA001-HSWT"],
    ),
    (
        "1.la001-reablement",
        "Ade Fenwick",
        "Occupational therapist, Airedale Council reablement team",
        Role::Therapist,
        "LA001",
        &["LA001-REABLEMENT"],
    ),
    (
        "1.la002-hswt",
        "Mo Hartigan",
        "Social worker, Bradley Council hospital social work team",
        Role::SocialWorker,
        "LA002",
        &["LA002-HSWT"],
    ),
    (
        "1.ryc01-lark-team",
        "Jo Pennant",
        "Ward nurse, Lark Ward, Eastbrook Community Hospital",
        Role::WardNurse,
        "RYC",
        &["RYC01-LARK-TEAM"],
    ),
    (
        "1.rxa-vw-team",
        "Femi Adeyinka",
        "Virtual ward clinician, Northgate hospital at home",
        Role::VirtualWardClinician,
        "RXA",
        &["RXA-VW-TEAM"],
    ),
    (
        "1.ryc-dn",
        "Kit Ellery",
        "District nurse, Eastbrook district nursing",
        Role::CommunityNurse,
        "RYC",
        &["RYC-DN"],
    ),
    (
        "broker.la001",
        "Nadia Kerrigan",
        "Care broker, Airedale Council brokerage team",
        Role::Broker,
        "LA001",
        &[],
    ),
    (
        "commissioner.la001",
        "Owen Blythe",
        "Commissioner, Airedale Council adult social care",
        Role::Commissioner,
        "LA001",
        &[],
    ),
    (
        "manager.vn101",
        "Ruth Calloway",
        "Registered manager, Oakleigh Care Home",
        Role::CareProvider,
        "VN101",
        &[],
    ),
    (
        "manager.vn102",
        "Dev Sandhu",
        "Registered manager, Beechwood Nursing Home",
        Role::CareProvider,
        "VN102",
        &[],
    ),
];

/// The demo's people.
pub fn personas() -> Vec<Persona> {
    PEOPLE
        .iter()
        .map(|(user_id, name, description, role, organisation, teams)| Persona {
            user_id: (*user_id).to_owned(),
            name: (*name).to_owned(),
            description: (*description).to_owned(),
            role: *role,
            organisation: (*organisation).to_owned(),
            teams: teams.iter().map(|t| (*t).to_owned()).collect(),
        })
        .collect()
}
