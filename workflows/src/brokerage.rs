//! The brokerage's deadlines on the one clock: each round of a care request is open for offers
//! until its window closes, and careflow's clock closes it (`CloseOfferWindow`), so that every
//! provider sees the same end and the broker sees the request move to "window closed". A
//! re-post or a hand-back opens a new round with its own deadline; a request withdrawn,
//! placed or cancelled needs its window closed no more.

use careflow_domain::brokerage::{BrokerageEvent, CareRequestId};
use careflow_eventstore::{RecordedEvent, StoreError};
use careflow_proto::brokerage::v1 as brokerage;
use chrono::{DateTime, Utc};

use crate::clock::{Deadline, DeadlineChange, Deadlines};
use crate::commands::{Command, command_id};

/// The offer windows: set by each round, cleared when the request leaves the market.
#[derive(Debug, Clone, Copy, Default)]
pub struct OfferWindows;

impl OfferWindows {
    fn key(request_id: &CareRequestId) -> String {
        format!("care-window/{request_id}")
    }

    fn set(request_id: &CareRequestId, round: u32, due: DateTime<Utc>) -> Vec<DeadlineChange> {
        let key = Self::key(request_id);
        let command = Command::CloseOfferWindow(brokerage::CloseOfferWindowRequest {
            command_id: command_id(&key, &format!("{round}/{}", due.to_rfc3339())),
            request_id: request_id.to_string(),
            round,
        });
        vec![DeadlineChange::Set(Box::new(Deadline { key, due, command }))]
    }
}

impl Deadlines for OfferWindows {
    fn categories(&self) -> &'static [&'static str] {
        &["care"]
    }

    fn scan(&self, event: &RecordedEvent) -> Result<Vec<DeadlineChange>, StoreError> {
        let event: BrokerageEvent = event.decode()?;
        Ok(match &event {
            BrokerageEvent::CareRequestPosted { request_id, window_closes_at, .. } => {
                Self::set(request_id, 1, *window_closes_at)
            }
            BrokerageEvent::CareRequestReposted { request_id, round, window_closes_at, .. } => {
                Self::set(request_id, *round, *window_closes_at)
            }
            BrokerageEvent::OfferWindowClosed { request_id, .. }
            | BrokerageEvent::CareRequestWithdrawn { request_id, .. }
            | BrokerageEvent::PlacementAgreed { request_id, .. }
            | BrokerageEvent::CareRequestCancelled { request_id, .. } => {
                vec![DeadlineChange::Clear(Self::key(request_id))]
            }
            _ => Vec::new(),
        })
    }
}
