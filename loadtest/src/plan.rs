//! Phase 2's plan: who watches what, on which device. The subscriptions asked for are shared
//! out over the kinds (bed boards 40%, team inboxes 20%, assessments 20%, virtual ward
//! censuses 10%, the broker's market 4%, providers' views 6%; at least one of each), and each
//! kind over its wards, assessments, virtual wards and providers in turn. One WebSocket per
//! device, as the real ones: a ward tablet shows its ward's bed board and (for the first
//! tablets of each ward) the team's inbox too; every other screen follows one thing.

use careflow_auth::Role;
use serde_json::{Value, json};

use crate::error::LoadtestError;
use crate::stats::PushKind;
use crate::tokens::Minter;
use crate::tracker::SubId;
use crate::world::{Audience, World};

/// Shares of the subscriptions, in percent, in [`PushKind::ALL`] order.
const SHARES: [u32; 6] = [40, 20, 20, 10, 4, 6];

/// What a ward tablet's bed board shows.
pub const BED_BOARD: &str = "subscription($ward: ID!) { bedBoard(wardId: $ward) { id label status since stayId \
    patient { nhsNumber givenName familyName } expectedDischargeDate medicallyOptimised reservedFor blockedReason } }";
/// A team inbox.
pub const INBOX: &str = "subscription($team: ID!) { teamInbox(teamId: $team) { id title status claimedBy priority overdue nhsNumber } }";
/// An assessment being worked on.
pub const ASSESSMENT: &str = "subscription($id: ID!) { assessment(id: $id) { id status \
    sections { id version savedBy { userId } } presence { userId sectionId } } }";
/// A virtual ward's census.
pub const CENSUS: &str = "subscription($ward: ID!) { virtualWardCensus(wardId: $ward) { full removed \
    ward { occupied } changed { admissionId flagged latest { total risk takenAt } openTasks { kind } } } }";
/// The broker's market.
pub const MARKET: &str = "subscription { careMarket { full market { figures { active open placed } } \
    changed { id state offers { offerId provider weeklyPricePence state ranking { rank } } } } }";
/// A care provider's view of the market.
pub const PROVIDER: &str = "subscription { providerRequests { full \
    changed { id state offers { offerId provider weeklyPricePence state } } removed } }";

/// One subscription.
#[derive(Debug, Clone)]
pub struct SubPlan {
    /// Its number (also its graphql-transport-ws operation id).
    pub id: SubId,
    /// The subscription document.
    pub query: &'static str,
    /// Its variables.
    pub variables: Value,
}

/// One device: a WebSocket with a token and its subscriptions.
#[derive(Debug, Clone)]
pub struct DevicePlan {
    /// The token it connects with.
    pub token: String,
    /// Its subscriptions.
    pub subs: Vec<SubPlan>,
}

/// Every device, who watches what, and each subscription's kind.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Devices.
    pub devices: Vec<DevicePlan>,
    /// Who watches what.
    pub audience: Audience,
    /// Each subscription's kind, by [`SubId`].
    pub kinds: Vec<PushKind>,
}

/// How many subscriptions of each kind, in [`PushKind::ALL`] order (at least one each).
pub fn split(total: u32) -> [usize; 6] {
    let mut counts = SHARES.map(|share| usize::try_from(total * share / 100).unwrap_or(0).max(1));
    let others: usize = counts[1..].iter().sum();
    counts[0] = usize::try_from(total).unwrap_or(0).saturating_sub(others).max(1);
    counts
}

/// Plans `total` subscriptions over `world`'s wards, assessments, virtual wards and market.
pub fn plan(
    world: &World,
    total: u32,
    minter: &Minter,
    trust: &str,
    council: &str,
) -> Result<Plan, LoadtestError> {
    let counts = split(total);
    let lower = world.prefix.to_ascii_lowercase();
    let mut devices: Vec<DevicePlan> = Vec::new();
    let mut kinds: Vec<PushKind> = Vec::new();
    let mut audience = Audience {
        bed_board: vec![Vec::new(); world.wards.len()],
        inbox: vec![Vec::new(); world.wards.len()],
        assessment: vec![Vec::new(); world.assessments.len()],
        census: vec![Vec::new(); world.virtual_wards.len()],
        market: Vec::new(),
        provider: vec![Vec::new(); world.providers.len()],
    };
    let mut sub = |kind: PushKind, query: &'static str, variables: Value| {
        let id = SubId::try_from(kinds.len()).unwrap_or(SubId::MAX);
        kinds.push(kind);
        SubPlan { id, query, variables }
    };

    // Ward tablets: bed board j on ward j % wards; inbox j joins that ward's tablet j / wards.
    let wards = world.wards.len().max(1);
    let mut tablets: Vec<Vec<usize>> = vec![Vec::new(); world.wards.len()];
    for j in 0..counts[0] {
        let w = j % wards;
        let Some(ward) = world.wards.get(w) else { break };
        let user = format!("tablet{}.{}.{lower}", j / wards + 1, ward.id.to_ascii_lowercase());
        let token = minter.token(&user, Role::WardNurse, trust, &[&ward.team])?;
        let s = sub(PushKind::BedBoard, BED_BOARD, json!({"ward": ward.id}));
        audience.bed_board[w].push(s.id);
        tablets[w].push(devices.len());
        devices.push(DevicePlan { token, subs: vec![s] });
    }
    for j in 0..counts[1] {
        let w = j % wards;
        let Some(ward) = world.wards.get(w) else { break };
        let s = sub(PushKind::TeamInbox, INBOX, json!({"team": ward.team}));
        audience.inbox[w].push(s.id);
        match tablets[w].get(j / wards) {
            Some(device) => devices[*device].subs.push(s),
            None => {
                let user = format!("inbox{}.{}.{lower}", j / wards + 1, ward.id.to_ascii_lowercase());
                let token = minter.token(&user, Role::WardNurse, trust, &[&ward.team])?;
                devices.push(DevicePlan { token, subs: vec![s] });
            }
        }
    }
    // Assessors, each on their own device: a social worker, a nurse, a therapist in turn.
    let assessors = [(Role::SocialWorker, council), (Role::WardNurse, trust), (Role::Therapist, council)];
    for j in 0..counts[2] {
        let a = j % world.assessments.len().max(1);
        let Some(assessment) = world.assessments.get(a) else { break };
        let (role, organisation) = assessors[j % assessors.len()];
        let token = minter.token(&format!("assessor{}.{lower}", j + 1), role, organisation, &[])?;
        let s = sub(PushKind::Assessment, ASSESSMENT, json!({"id": assessment.id}));
        audience.assessment[a].push(s.id);
        devices.push(DevicePlan { token, subs: vec![s] });
    }
    for j in 0..counts[3] {
        let v = j % world.virtual_wards.len().max(1);
        let Some(ward) = world.virtual_wards.get(v) else { break };
        let team = format!("{}-TEAM", ward.id);
        let token = minter.token(
            &format!("vwscreen{}.{lower}", j + 1),
            Role::VirtualWardClinician,
            trust,
            &[&team],
        )?;
        let s = sub(PushKind::VirtualWardCensus, CENSUS, json!({"ward": ward.id}));
        audience.census[v].push(s.id);
        devices.push(DevicePlan { token, subs: vec![s] });
    }
    for j in 0..counts[4] {
        let token = minter.token(&format!("broker{}.{lower}", j + 1), Role::Broker, council, &[])?;
        let s = sub(PushKind::CareMarket, MARKET, json!({}));
        audience.market.push(s.id);
        devices.push(DevicePlan { token, subs: vec![s] });
    }
    for j in 0..counts[5] {
        let p = j % world.providers.len().max(1);
        let Some(provider) = world.providers.get(p) else { break };
        let user = format!("screen{}.{}", j + 1, provider.ods.to_ascii_lowercase());
        let token = minter.token(&user, Role::CareProvider, &provider.ods, &[])?;
        let s = sub(PushKind::ProviderRequests, PROVIDER, json!({}));
        audience.provider[p].push(s.id);
        devices.push(DevicePlan { token, subs: vec![s] });
    }
    Ok(Plan { devices, audience, kinds })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::world::{Assessment, BedState, Provider, Tokens, VirtualWard, Ward};

    #[test]
    fn subscriptions_are_shared_out_with_one_of_each_kind_at_least() {
        assert_eq!(split(1000), [400, 200, 200, 100, 40, 60]);
        assert_eq!(split(60), [25, 12, 12, 6, 2, 3]);
        assert_eq!(split(6), [1, 1, 1, 1, 1, 1]);
        for total in [6, 7, 60, 300, 999, 1000, 5000] {
            assert_eq!(split(total).iter().sum::<usize>(), total as usize, "{total}");
        }
    }

    #[test]
    fn each_ward_tablet_has_its_own_socket_and_the_first_show_the_inbox_too() {
        let world = World {
            prefix: "T1".into(),
            wards: (0..2)
                .map(|w| Ward {
                    id: format!("W{w}"),
                    team: format!("W{w}-TEAM"),
                    nurse: "t".into(),
                    nurse_user: "n".into(),
                })
                .collect(),
            beds: vec![],
            bed_states: Vec::<BedState>::new(),
            assessments: vec![Assessment { id: "a1".into() }],
            sections: vec![],
            virtual_wards: vec![VirtualWard { id: "V1".into() }],
            admissions: vec![],
            providers: vec![
                Provider { ods: "VN1".into(), token: "p".into() },
                Provider { ods: "VN2".into(), token: "p".into() },
            ],
            requests: vec![],
            offer_pairs: vec![],
            tokens: Tokens { housekeeper: "h".into(), device: "d".into() },
        };
        let minter = Minter::new("s", "careflow", "careflow", chrono::Duration::hours(1));
        let plan = plan(&world, 60, &minter, "LTT1", "LAT1").unwrap();
        assert_eq!(plan.kinds.len(), 60);
        assert_eq!(plan.audience.bed_board.iter().map(Vec::len).collect::<Vec<_>>(), [13, 12]);
        assert_eq!(plan.audience.inbox.iter().map(Vec::len).collect::<Vec<_>>(), [6, 6]);
        assert_eq!(plan.audience.provider.iter().map(Vec::len).collect::<Vec<_>>(), [2, 1]);
        // 25 tablets (12 with the inbox as well), then one socket per other subscription.
        assert_eq!(plan.devices.len(), 60 - 12);
        assert!(plan.devices.iter().all(|d| !d.subs.is_empty() && d.subs.len() <= 2));
        let ids: std::collections::BTreeSet<SubId> =
            plan.devices.iter().flat_map(|d| d.subs.iter().map(|s| s.id)).collect();
        assert_eq!(ids.len(), 60, "every subscription on exactly one device");
    }
}
