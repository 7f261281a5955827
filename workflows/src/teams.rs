//! The teams the workflows route work to, folded from `TeamConfigured`, and the one rule for
//! which team works for a ward.

use std::collections::{BTreeMap, BTreeSet};

use careflow_domain::tasks::{TeamConfig, TeamKind};
use careflow_domain::{OdsCode, TeamId, WardId};

#[derive(Debug, Clone)]
struct Team {
    kind: TeamKind,
    organisation: OdsCode,
    wards: BTreeSet<WardId>,
}

/// Every team, as last configured.
#[derive(Debug, Default)]
pub(crate) struct Teams(BTreeMap<TeamId, Team>);

impl Teams {
    /// Folds a team's configuration in.
    pub(crate) fn configure(&mut self, team_id: TeamId, config: TeamConfig) {
        let team = Team { kind: config.kind, organisation: config.organisation, wards: config.wards };
        self.0.insert(team_id, team);
    }

    /// The team of `kind` that works for `ward`, of the organisation whose ward it is (a team
    /// of another organisation naming the ward gets nothing): one naming the ward, else one of
    /// the organisation naming no wards. `None` for the organisation (a ward recorded before
    /// owners were): any team naming the ward.
    pub(crate) fn for_ward(
        &self,
        ward: &WardId,
        kind: TeamKind,
        organisation: Option<&OdsCode>,
    ) -> Option<&TeamId> {
        let of_kind = || {
            self.0
                .iter()
                .filter(move |(_, t)| t.kind == kind && organisation.is_none_or(|o| *o == t.organisation))
        };
        of_kind()
            .find(|(_, t)| t.wards.contains(ward))
            .or_else(|| of_kind().find(|(_, t)| t.wards.is_empty() && Some(&t.organisation) == organisation))
            .map(|(id, _)| id)
    }
}
