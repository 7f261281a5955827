//! Why the brokerage context refuses a command. Messages name requests, offers and providers by
//! id, never the person.

use chrono::{DateTime, Utc};

use super::{CareRequestId, OfferId};
use crate::OdsCode;
use crate::assessments::AssessmentId;
use crate::decider::{Refusal, RefusalKind};

/// A refusal of the brokerage context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BrokerageError {
    /// No such provider.
    #[error("provider {ods} is not registered")]
    ProviderNotFound {
        /// The provider.
        ods: OdsCode,
    },
    /// A provider registers itself.
    #[error("provider {ods} may be registered only by its own organisation")]
    NotTheProvider {
        /// The provider.
        ods: OdsCode,
    },
    /// The profile does not hold together (beds without a bed-based service, say).
    #[error("the provider's {field} {message}")]
    InvalidProfile {
        /// The part that is wrong.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// More free than registered.
    #[error("provider {ods} has {registered} registered {unit}: it cannot have {free} free")]
    MoreFreeThanRegistered {
        /// The provider.
        ods: OdsCode,
        /// What it has.
        registered: u32,
        /// What was said to be free.
        free: u32,
        /// Beds, or hours a week.
        unit: &'static str,
    },
    /// Already suspended, or not suspended.
    #[error("provider {ods} is {state}")]
    Suspension {
        /// The provider.
        ods: OdsCode,
        /// `already suspended` or `not suspended`.
        state: &'static str,
    },
    /// No such assessment.
    #[error("assessment {assessment_id} does not exist")]
    AssessmentNotFound {
        /// The assessment.
        assessment_id: AssessmentId,
    },
    /// The assessment is not submitted (or not to this council).
    #[error(
        "assessment {assessment_id} is {status}: a care request needs a trusted assessment submitted to {organisation}"
    )]
    AssessmentNotSubmitted {
        /// The assessment.
        assessment_id: AssessmentId,
        /// Where it is.
        status: &'static str,
        /// The broker's council.
        organisation: OdsCode,
    },
    /// No such request.
    #[error("care request {request_id} does not exist")]
    RequestNotFound {
        /// The request.
        request_id: CareRequestId,
    },
    /// The id is taken.
    #[error("care request {request_id} already exists")]
    RequestAlreadyExists {
        /// The request.
        request_id: CareRequestId,
    },
    /// The request's state does not allow it.
    #[error("care request {request_id} is {status}: it cannot be {verb}")]
    RequestIs {
        /// The request.
        request_id: CareRequestId,
        /// Where it is.
        status: &'static str,
        /// What was attempted, as a past participle (`offered on`, `cancelled`).
        verb: &'static str,
    },
    /// The window closed.
    #[error("care request {request_id}'s offer window closed at {closed_at}")]
    WindowClosed {
        /// The request.
        request_id: CareRequestId,
        /// When.
        closed_at: DateTime<Utc>,
    },
    /// The clock came early.
    #[error("care request {request_id}'s offer window is not due to close until {closes_at}")]
    WindowNotYetClosed {
        /// The request.
        request_id: CareRequestId,
        /// When it closes.
        closes_at: DateTime<Utc>,
    },
    /// The provider is not eligible for the request.
    #[error("provider {ods} may not offer on care request {request_id}: it {why}")]
    NotEligible {
        /// The provider.
        ods: OdsCode,
        /// The request.
        request_id: CareRequestId,
        /// Why not.
        why: &'static str,
    },
    /// One live offer per provider per request.
    #[error(
        "provider {ods} already has live offer {offer_id} on care request {request_id}: withdraw it first"
    )]
    OfferAlreadyLive {
        /// The provider.
        ods: OdsCode,
        /// The request.
        request_id: CareRequestId,
        /// Its live offer.
        offer_id: OfferId,
    },
    /// A provider made and withdrew too many offers on one request.
    #[error("provider {ods} has made {max} offers on care request {request_id}, the most one provider may")]
    TooManyOffers {
        /// The provider.
        ods: OdsCode,
        /// The request.
        request_id: CareRequestId,
        /// The most.
        max: usize,
    },
    /// No such offer on the request.
    #[error("care request {request_id} has no offer {offer_id}")]
    OfferNotFound {
        /// The request.
        request_id: CareRequestId,
        /// The offer.
        offer_id: OfferId,
    },
    /// The offer is not live.
    #[error("offer {offer_id} is {status}: it cannot be {verb}")]
    OfferIs {
        /// The offer.
        offer_id: OfferId,
        /// Where it is.
        status: &'static str,
        /// What was attempted.
        verb: &'static str,
    },
    /// A provider acts only on its own offers and placements.
    #[error("{organisation} may act only on its own offers and placements")]
    NotYourOffer {
        /// The actor's organisation.
        organisation: OdsCode,
    },
    /// A care start date before the request was posted.
    #[error("the {field} {date} is in the past")]
    DateInThePast {
        /// The field (`start_by`, `earliest_start`).
        field: &'static str,
        /// The date.
        date: chrono::NaiveDate,
    },
}

impl Refusal for BrokerageError {
    fn kind(&self) -> RefusalKind {
        match self {
            Self::ProviderNotFound { .. }
            | Self::AssessmentNotFound { .. }
            | Self::RequestNotFound { .. }
            | Self::OfferNotFound { .. } => RefusalKind::NotFound,
            Self::RequestAlreadyExists { .. } => RefusalKind::AlreadyExists,
            Self::NotTheProvider { .. } | Self::NotYourOffer { .. } => RefusalKind::Forbidden,
            Self::InvalidProfile { .. }
            | Self::MoreFreeThanRegistered { .. }
            | Self::Suspension { .. }
            | Self::AssessmentNotSubmitted { .. }
            | Self::RequestIs { .. }
            | Self::WindowClosed { .. }
            | Self::WindowNotYetClosed { .. }
            | Self::NotEligible { .. }
            | Self::OfferAlreadyLive { .. }
            | Self::TooManyOffers { .. }
            | Self::OfferIs { .. }
            | Self::DateInThePast { .. } => RefusalKind::Precondition,
        }
    }

    fn violations(&self) -> Vec<(String, String)> {
        match self {
            Self::InvalidProfile { field, message } => vec![((*field).to_owned(), message.clone())],
            Self::MoreFreeThanRegistered { unit, registered, .. } => {
                let field = if *unit == "beds" { "beds_free" } else { "hours_free" };
                vec![(field.to_owned(), format!("must be at most the {registered} registered"))]
            }
            Self::DateInThePast { field, .. } => vec![((*field).to_owned(), "is in the past".to_owned())],
            _ => Vec::new(),
        }
    }
}
