//! The brokerage context as a [`Decider`]: its streams, what each command reads, whose the
//! things it touches are, and the decisions.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ranking::{self, Candidate, Wanted};
use super::{
    BrokerageCommand, BrokerageError, BrokerageEvent, CareNeeds, CareRequest, CareRequestId,
    CareRequestState, DeclineReason, NeedItem, OfferStatus, ProviderState, RankingState, RequestStatus,
    Terms, capacity_of,
};
use crate::assessments::{
    Answer, Assessment, AssessmentEvent, AssessmentStatus, AssessmentStream, AssessmentStreamState,
    QuestionKind, TemplateContent,
};
use crate::decider::{Decider, Loaded, Owner};
use crate::{OdsCode, assessments};

/// A stream a brokerage decision reads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BrokerageStream {
    /// `provider-<ods>`.
    Provider(OdsCode),
    /// `care-request-<uuid>`.
    Request(CareRequestId),
    /// `ranking-<ods>`: a council's ranking rule.
    Ranking(OdsCode),
    /// An assessments stream, read only: the `assessment-<id>` a request links, and its
    /// `template-<id>`.
    Assessment(AssessmentStream),
}

/// The state of a stream a brokerage decision reads.
#[derive(Debug, Clone, PartialEq)]
pub enum BrokerageStreamState {
    /// A provider.
    Provider(ProviderState),
    /// A request.
    Request(CareRequestState),
    /// A council's ranking rule.
    Ranking(RankingState),
    /// An assessment or a template.
    Assessment(AssessmentStreamState),
}

/// An event on a stream a brokerage decision reads. Stored as the event itself (its `type`
/// tells which), so this enum is untagged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum BrokerageStreamEvent {
    /// A brokerage event.
    Brokerage(BrokerageEvent),
    /// An assessments event.
    Assessment(AssessmentEvent),
}

/// The brokerage context as a [`Decider`].
#[derive(Debug, Clone, Copy)]
pub struct Brokerage;

/// How long an offer window may be open: an hour to a week.
pub const WINDOW_HOURS: std::ops::RangeInclusive<u16> = 1..=168;

fn provider<'a>(loaded: &'a Loaded<Brokerage>, ods: &OdsCode) -> Option<&'a ProviderState> {
    match loaded.get(&BrokerageStream::Provider(ods.clone())) {
        Some(BrokerageStreamState::Provider(state)) => Some(state),
        _ => None,
    }
}

fn registered<'a>(loaded: &'a Loaded<Brokerage>, ods: &OdsCode) -> Result<&'a ProviderState, BrokerageError> {
    provider(loaded, ods)
        .filter(|p| p.profile.is_some())
        .ok_or_else(|| BrokerageError::ProviderNotFound { ods: ods.clone() })
}

fn request(loaded: &Loaded<Brokerage>, id: Option<CareRequestId>) -> Option<&CareRequest> {
    match loaded.get(&BrokerageStream::Request(id?)) {
        Some(BrokerageStreamState::Request(state)) => state.request.as_ref(),
        _ => None,
    }
}

fn posted(loaded: &Loaded<Brokerage>, id: CareRequestId) -> Result<&CareRequest, BrokerageError> {
    request(loaded, Some(id)).ok_or(BrokerageError::RequestNotFound { request_id: id })
}

fn ranking(loaded: &Loaded<Brokerage>, org: &OdsCode) -> RankingState {
    match loaded.get(&BrokerageStream::Ranking(org.clone())) {
        Some(BrokerageStreamState::Ranking(state)) => state.clone(),
        _ => RankingState::default(),
    }
}

fn assessment(loaded: &Loaded<Brokerage>, id: assessments::AssessmentId) -> Option<&Assessment> {
    match loaded.get(&BrokerageStream::Assessment(AssessmentStream::Assessment(id))) {
        Some(BrokerageStreamState::Assessment(AssessmentStreamState::Assessment(state))) => {
            state.assessment.as_ref()
        }
        _ => None,
    }
}

fn template<'a>(loaded: &'a Loaded<Brokerage>, a: &Assessment) -> Option<&'a TemplateContent> {
    match loaded.get(&BrokerageStream::Assessment(AssessmentStream::Template(a.template_id.clone()))) {
        Some(BrokerageStreamState::Assessment(AssessmentStreamState::Template(state))) => {
            state.versions.get(&a.template_version)
        }
        _ => None,
    }
}

impl Decider for Brokerage {
    type Command = BrokerageCommand;
    type Event = BrokerageStreamEvent;
    type Stream = BrokerageStream;
    type State = BrokerageStreamState;
    type Error = BrokerageError;

    const CONTEXT: &'static str = "brokerage";
    const SCHEMA_VERSION: u32 = BrokerageEvent::SCHEMA_VERSION;
    const CATEGORIES: &'static [&'static str] = &["provider", "care", "ranking"];

    fn command_name(command: &BrokerageCommand) -> &'static str {
        match command {
            BrokerageCommand::RegisterProvider { .. } => "RegisterProvider",
            BrokerageCommand::UpdateVacancies { .. } => "UpdateVacancies",
            BrokerageCommand::RecordCqcRating { .. } => "RecordCqcRating",
            BrokerageCommand::SuspendProvider { .. } => "SuspendProvider",
            BrokerageCommand::ReinstateProvider { .. } => "ReinstateProvider",
            BrokerageCommand::PostCareRequest { .. } => "PostCareRequest",
            BrokerageCommand::CloseOfferWindow { .. } => "CloseOfferWindow",
            BrokerageCommand::WithdrawCareRequest { .. } => "WithdrawCareRequest",
            BrokerageCommand::RepostCareRequest { .. } => "RepostCareRequest",
            BrokerageCommand::CancelCareRequest { .. } => "CancelCareRequest",
            BrokerageCommand::MakeOffer { .. } => "MakeOffer",
            BrokerageCommand::WithdrawOffer { .. } => "WithdrawOffer",
            BrokerageCommand::AcceptOffer { .. } => "AcceptOffer",
            BrokerageCommand::HandBackPlacement { .. } => "HandBackPlacement",
            BrokerageCommand::SetRankingRule { .. } => "SetRankingRule",
        }
    }

    fn stream_name(stream: &BrokerageStream) -> String {
        match stream {
            BrokerageStream::Provider(ods) => format!("provider-{ods}"),
            BrokerageStream::Request(id) => format!("care-request-{id}"),
            BrokerageStream::Ranking(ods) => format!("ranking-{ods}"),
            BrokerageStream::Assessment(AssessmentStream::Assessment(id)) => format!("assessment-{id}"),
            BrokerageStream::Assessment(AssessmentStream::Template(id)) => format!("template-{id}"),
            BrokerageStream::Assessment(AssessmentStream::Patient(nhs)) => format!("patient-{nhs}"),
        }
    }

    fn stream_of(event: &BrokerageStreamEvent) -> BrokerageStream {
        match event {
            BrokerageStreamEvent::Brokerage(e) => e.stream(),
            BrokerageStreamEvent::Assessment(e) => BrokerageStream::Assessment(e.stream()),
        }
    }

    fn event_type(event: &BrokerageStreamEvent) -> &'static str {
        match event {
            BrokerageStreamEvent::Brokerage(e) => e.event_type(),
            BrokerageStreamEvent::Assessment(e) => e.event_type(),
        }
    }

    fn initial(stream: &BrokerageStream) -> BrokerageStreamState {
        match stream {
            BrokerageStream::Provider(_) => BrokerageStreamState::Provider(ProviderState::default()),
            BrokerageStream::Request(_) => BrokerageStreamState::Request(CareRequestState::default()),
            BrokerageStream::Ranking(_) => BrokerageStreamState::Ranking(RankingState::default()),
            BrokerageStream::Assessment(stream) => BrokerageStreamState::Assessment(match stream {
                AssessmentStream::Template(_) => AssessmentStreamState::Template(Default::default()),
                AssessmentStream::Assessment(_) => AssessmentStreamState::Assessment(Default::default()),
                AssessmentStream::Patient(_) => AssessmentStreamState::Patient(Default::default()),
            }),
        }
    }

    fn evolve(state: &mut BrokerageStreamState, event: &BrokerageStreamEvent) {
        match (state, event) {
            (BrokerageStreamState::Provider(p), BrokerageStreamEvent::Brokerage(e)) => p.evolve(e),
            (BrokerageStreamState::Request(r), BrokerageStreamEvent::Brokerage(e)) => r.evolve(e),
            (BrokerageStreamState::Ranking(r), BrokerageStreamEvent::Brokerage(e)) => r.evolve(e),
            (
                BrokerageStreamState::Assessment(AssessmentStreamState::Assessment(a)),
                BrokerageStreamEvent::Assessment(e),
            ) => a.evolve(e),
            (
                BrokerageStreamState::Assessment(AssessmentStreamState::Template(t)),
                BrokerageStreamEvent::Assessment(e),
            ) => t.evolve(e),
            _ => {}
        }
    }

    /// A provider command reads the provider; a ranking rule, the council's ranking stream;
    /// posting, the request, the assessment and its template; offering, the request and the
    /// provider; accepting, the request, the offer's provider and the council's rule; handing
    /// back or cancelling a placement, the request and the placement's provider.
    fn streams(command: &BrokerageCommand, loaded: &Loaded<Self>) -> Vec<BrokerageStream> {
        use BrokerageCommand as C;
        match command {
            C::RegisterProvider { ods, .. }
            | C::UpdateVacancies { ods, .. }
            | C::RecordCqcRating { ods, .. }
            | C::SuspendProvider { ods, .. }
            | C::ReinstateProvider { ods, .. } => vec![BrokerageStream::Provider(ods.clone())],
            C::SetRankingRule { organisation, .. } => vec![BrokerageStream::Ranking(organisation.clone())],
            C::PostCareRequest { request_id, assessment_id, .. } => {
                let mut streams = vec![
                    BrokerageStream::Request(*request_id),
                    BrokerageStream::Assessment(AssessmentStream::Assessment(*assessment_id)),
                ];
                if let Some(a) = assessment(loaded, *assessment_id) {
                    streams
                        .push(BrokerageStream::Assessment(AssessmentStream::Template(a.template_id.clone())));
                }
                streams
            }
            C::MakeOffer { request_id, provider, .. } => {
                vec![BrokerageStream::Request(*request_id), BrokerageStream::Provider(provider.clone())]
            }
            C::AcceptOffer { request_id, offer_id, .. } => {
                let mut streams = vec![BrokerageStream::Request(*request_id)];
                if let Some(r) = request(loaded, Some(*request_id)) {
                    if let Some(offer) = r.offers.get(offer_id) {
                        streams.push(BrokerageStream::Provider(offer.provider.clone()));
                    }
                    streams.push(BrokerageStream::Ranking(r.organisation.clone()));
                }
                streams
            }
            C::HandBackPlacement { request_id, .. } | C::CancelCareRequest { request_id, .. } => {
                let mut streams = vec![BrokerageStream::Request(*request_id)];
                if let Some(p) = request(loaded, Some(*request_id)).and_then(|r| r.placement.as_ref()) {
                    streams.push(BrokerageStream::Provider(p.provider.clone()));
                }
                streams
            }
            C::CloseOfferWindow { request_id, .. }
            | C::WithdrawCareRequest { request_id, .. }
            | C::RepostCareRequest { request_id, .. }
            | C::WithdrawOffer { request_id, .. } => vec![BrokerageStream::Request(*request_id)],
        }
    }

    /// A provider is its own organisation's (commissioners of any council record ratings and
    /// suspend, as market oversight); a ranking rule, its council's; a request, its council's;
    /// an offer, its provider's; a placement handed back, its provider's.
    fn owners(loaded: &Loaded<Self>, command: &BrokerageCommand) -> Vec<Owner> {
        use BrokerageCommand as C;
        let council = || {
            request(loaded, command.request_id())
                .map(|r| vec![Owner::Organisation(r.organisation.clone())])
                .unwrap_or_default()
        };
        match command {
            C::RegisterProvider { ods, .. } | C::UpdateVacancies { ods, .. } => {
                vec![Owner::Organisation(ods.clone())]
            }
            C::RecordCqcRating { .. } | C::SuspendProvider { .. } | C::ReinstateProvider { .. } => {
                vec![Owner::New]
            }
            C::SetRankingRule { organisation, .. } => vec![Owner::Organisation(organisation.clone())],
            C::PostCareRequest { .. } => vec![Owner::New],
            C::MakeOffer { provider, .. } => vec![Owner::Organisation(provider.clone())],
            C::WithdrawOffer { request_id, offer_id, .. } => request(loaded, Some(*request_id))
                .and_then(|r| r.offers.get(offer_id))
                .map(|o| vec![Owner::Organisation(o.provider.clone())])
                .unwrap_or_default(),
            C::HandBackPlacement { request_id, .. } => request(loaded, Some(*request_id))
                .and_then(|r| r.placement.as_ref())
                .map(|p| vec![Owner::Organisation(p.provider.clone())])
                .unwrap_or_default(),
            C::CloseOfferWindow { .. }
            | C::WithdrawCareRequest { .. }
            | C::RepostCareRequest { .. }
            | C::CancelCareRequest { .. }
            | C::AcceptOffer { .. } => council(),
        }
    }

    fn decide(
        loaded: &Loaded<Self>,
        command: &BrokerageCommand,
        at: DateTime<Utc>,
    ) -> Result<Vec<BrokerageStreamEvent>, BrokerageError> {
        Ok(decide(loaded, command, at)?.into_iter().map(BrokerageStreamEvent::Brokerage).collect())
    }

    /// The provider, the request, or the council whose rule changed.
    fn touched(_: &Loaded<Self>, events: &[BrokerageStreamEvent]) -> Vec<String> {
        let mut touched: Vec<String> = Vec::new();
        for event in events {
            let BrokerageStreamEvent::Brokerage(event) = event else { continue };
            let id = match event.stream() {
                BrokerageStream::Request(id) => id.to_string(),
                BrokerageStream::Provider(ods) | BrokerageStream::Ranking(ods) => ods.to_string(),
                BrokerageStream::Assessment(_) => continue,
            };
            if !touched.contains(&id) {
                touched.push(id);
            }
        }
        touched
    }
}

/// The answer as a provider is shown it.
fn shown(kind: &QuestionKind, answer: &Answer) -> String {
    let label = |options: &[assessments::ChoiceOption], value: &crate::QuestionId| {
        options.iter().find(|o| o.value == *value).map_or_else(|| value.to_string(), |o| o.label.to_string())
    };
    match (kind, answer) {
        (QuestionKind::Choice { options }, Answer::Choice(v)) => label(options, v),
        (QuestionKind::MultiChoice { options }, Answer::Choices(vs)) => {
            vs.iter().map(|v| label(options, v)).collect::<Vec<_>>().join(", ")
        }
        (QuestionKind::Number { unit, .. }, Answer::Number(n)) => match unit {
            Some(unit) => format!("{n} {unit}"),
            None => n.to_string(),
        },
        (QuestionKind::Score { levels, .. }, Answer::Score(s)) => {
            match levels.iter().find(|l| l.score == *s) {
                Some(level) => format!("{s} — {}", level.label),
                None => s.to_string(),
            }
        }
        (_, Answer::YesNo(true)) => "Yes".into(),
        (_, Answer::YesNo(false)) => "No".into(),
        (_, Answer::Date(d)) => d.to_string(),
        (_, Answer::Text(t)) => t.clone(),
        (_, Answer::Number(n)) => n.to_string(),
        (_, Answer::Score(s)) => s.to_string(),
        (_, Answer::Choice(v)) => v.to_string(),
        (_, Answer::Choices(vs)) => vs.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
    }
}

/// What providers see of the assessment: the structured answers (choices, yes/no, numbers,
/// scores) of every section the template does not withhold from them, and free text and dates
/// only from the sections it shares with them.
pub fn care_needs(a: &Assessment, template: &TemplateContent) -> CareNeeds {
    let mut items = Vec::new();
    for section in template.sections.iter().filter(|s| !s.withheld_from_providers) {
        let Some(saved) = a.sections.get(&section.id) else { continue };
        for question in &section.questions {
            let Some(answer) = saved.answers.get(&question.id) else { continue };
            if answer.is_blank() {
                continue;
            }
            let identifying = matches!(answer, Answer::Text(_) | Answer::Date(_));
            if identifying && !section.shared_with_providers {
                continue;
            }
            items.push(NeedItem {
                section: section.title.to_string(),
                question: question.text.to_string(),
                answer: shown(&question.kind, answer),
            });
        }
    }
    CareNeeds { items }
}

fn window(at: DateTime<Utc>, hours: u16) -> DateTime<Utc> {
    at + Duration::hours(i64::from(hours))
}

/// Declines every live offer of `r` for `reason`.
fn decline_live(
    id: CareRequestId,
    r: &CareRequest,
    reason: DeclineReason,
    at: DateTime<Utc>,
) -> Vec<BrokerageEvent> {
    r.live()
        .map(|(offer_id, _)| BrokerageEvent::OfferDeclined {
            request_id: id,
            offer_id: *offer_id,
            reason,
            at,
        })
        .collect()
}

/// The decision. See the module docs of [`super`] for the rules.
pub fn decide(
    loaded: &Loaded<Brokerage>,
    command: &BrokerageCommand,
    at: DateTime<Utc>,
) -> Result<Vec<BrokerageEvent>, BrokerageError> {
    use BrokerageCommand as C;
    match command {
        C::RegisterProvider { ods, profile, cqc, by } => {
            if by.organisation != *ods {
                return Err(BrokerageError::NotTheProvider { ods: ods.clone() });
            }
            profile.check().map_err(|(field, message)| BrokerageError::InvalidProfile { field, message })?;
            match provider(loaded, ods).and_then(|p| p.profile.as_ref()) {
                None => Ok(vec![BrokerageEvent::ProviderRegistered {
                    ods: ods.clone(),
                    profile: profile.clone(),
                    cqc: *cqc,
                    by: by.user_id.clone(),
                    at,
                }]),
                Some(current) if current == profile => Ok(Vec::new()),
                Some(_) => Ok(vec![BrokerageEvent::ProviderProfileChanged {
                    ods: ods.clone(),
                    profile: profile.clone(),
                    by: by.user_id.clone(),
                    at,
                }]),
            }
        }
        C::UpdateVacancies { ods, beds_free, hours_free, rates, by } => {
            let p = registered(loaded, ods)?;
            let profile =
                p.profile.as_ref().ok_or_else(|| BrokerageError::ProviderNotFound { ods: ods.clone() })?;
            if *beds_free > profile.registered_beds {
                return Err(BrokerageError::MoreFreeThanRegistered {
                    ods: ods.clone(),
                    registered: profile.registered_beds,
                    free: *beds_free,
                    unit: "beds",
                });
            }
            if *hours_free > profile.weekly_hours {
                return Err(BrokerageError::MoreFreeThanRegistered {
                    ods: ods.clone(),
                    registered: profile.weekly_hours,
                    free: *hours_free,
                    unit: "hours a week",
                });
            }
            let rates = rates.clone().unwrap_or_else(|| profile.rates.clone());
            if let Some(other) = rates.keys().find(|c| !profile.services.contains(c)) {
                return Err(BrokerageError::InvalidProfile {
                    field: "rates",
                    message: format!("names {}, a service not offered", other.as_str()),
                });
            }
            if p.beds_free == *beds_free && p.hours_free == *hours_free && profile.rates == rates {
                return Ok(Vec::new());
            }
            Ok(vec![BrokerageEvent::VacanciesUpdated {
                ods: ods.clone(),
                beds_free: *beds_free,
                hours_free: *hours_free,
                rates,
                by: by.user_id.clone(),
                at,
            }])
        }
        C::RecordCqcRating { ods, cqc, by } => {
            let p = registered(loaded, ods)?;
            if p.cqc == Some(*cqc) {
                return Ok(Vec::new());
            }
            Ok(vec![BrokerageEvent::CqcRatingRecorded { ods: ods.clone(), cqc: *cqc, by: by.clone(), at }])
        }
        C::SuspendProvider { ods, reason, by } => {
            if registered(loaded, ods)?.suspended.is_some() {
                return Err(BrokerageError::Suspension { ods: ods.clone(), state: "already suspended" });
            }
            Ok(vec![BrokerageEvent::ProviderSuspended {
                ods: ods.clone(),
                reason: reason.clone(),
                by: by.clone(),
                at,
            }])
        }
        C::ReinstateProvider { ods, by } => {
            if registered(loaded, ods)?.suspended.is_none() {
                return Err(BrokerageError::Suspension { ods: ods.clone(), state: "not suspended" });
            }
            Ok(vec![BrokerageEvent::ProviderReinstated { ods: ods.clone(), by: by.clone(), at }])
        }
        C::SetRankingRule { organisation, rule, by } => {
            if ranking(loaded, organisation).rule == Some(*rule) {
                return Ok(Vec::new());
            }
            Ok(vec![BrokerageEvent::RankingRuleSet {
                organisation: organisation.clone(),
                rule: *rule,
                by: by.user_id.clone(),
                at,
            }])
        }
        C::PostCareRequest { request_id, assessment_id, need, district, terms, window_hours, by } => {
            if request(loaded, Some(*request_id)).is_some() {
                return Err(BrokerageError::RequestAlreadyExists { request_id: *request_id });
            }
            let a = assessment(loaded, *assessment_id)
                .ok_or(BrokerageError::AssessmentNotFound { assessment_id: *assessment_id })?;
            let submitted = matches!(a.status, AssessmentStatus::Submitted | AssessmentStatus::Accepted);
            let to_council = a.organisation == by.organisation || a.submitted_to.contains(&by.organisation);
            if !submitted || !to_council {
                return Err(BrokerageError::AssessmentNotSubmitted {
                    assessment_id: *assessment_id,
                    status: if submitted { "not submitted to this council" } else { a.status.as_str() },
                    organisation: by.organisation.clone(),
                });
            }
            if terms.start_by < at.date_naive() {
                return Err(BrokerageError::DateInThePast { field: "start_by", date: terms.start_by });
            }
            let needs = template(loaded, a).map(|t| care_needs(a, t)).unwrap_or_default();
            Ok(vec![BrokerageEvent::CareRequestPosted {
                request_id: *request_id,
                organisation: by.organisation.clone(),
                nhs_number: a.nhs_number,
                assessment_id: *assessment_id,
                need: *need,
                district: district.clone(),
                terms: *terms,
                needs,
                window_closes_at: window(at, *window_hours),
                by: by.user_id.clone(),
                at,
            }])
        }
        C::CloseOfferWindow { request_id, round } => {
            let r = posted(loaded, *request_id)?;
            // A later round, or a request no longer open: nothing to close.
            if r.round != *round || r.status != RequestStatus::Open {
                return Ok(Vec::new());
            }
            if at < r.window_closes_at {
                return Err(BrokerageError::WindowNotYetClosed {
                    request_id: *request_id,
                    closes_at: r.window_closes_at,
                });
            }
            let offers =
                u32::try_from(r.live().filter(|(_, o)| o.round == *round).count()).unwrap_or(u32::MAX);
            Ok(vec![BrokerageEvent::OfferWindowClosed { request_id: *request_id, round: *round, offers, at }])
        }
        C::WithdrawCareRequest { request_id, reason, by } => {
            let r = posted(loaded, *request_id)?;
            match r.status {
                RequestStatus::Withdrawn => return Ok(Vec::new()),
                RequestStatus::Open | RequestStatus::WindowClosed => {}
                RequestStatus::Placed | RequestStatus::Cancelled => {
                    return Err(BrokerageError::RequestIs {
                        request_id: *request_id,
                        status: r.status.as_str(),
                        verb: "withdrawn",
                    });
                }
            }
            let mut events = vec![BrokerageEvent::CareRequestWithdrawn {
                request_id: *request_id,
                reason: reason.clone(),
                by: by.user_id.clone(),
                at,
            }];
            events.extend(decline_live(*request_id, r, DeclineReason::RequestWithdrawn, at));
            Ok(events)
        }
        C::RepostCareRequest { request_id, terms, window_hours, by } => {
            let r = posted(loaded, *request_id)?;
            match r.status {
                RequestStatus::Withdrawn | RequestStatus::WindowClosed => {}
                RequestStatus::Open | RequestStatus::Placed | RequestStatus::Cancelled => {
                    return Err(BrokerageError::RequestIs {
                        request_id: *request_id,
                        status: r.status.as_str(),
                        verb: "posted again",
                    });
                }
            }
            let terms = terms.unwrap_or(r.terms);
            if terms.start_by < at.date_naive() {
                return Err(BrokerageError::DateInThePast { field: "start_by", date: terms.start_by });
            }
            let mut events = decline_live(*request_id, r, DeclineReason::RequestReposted, at);
            events.push(BrokerageEvent::CareRequestReposted {
                request_id: *request_id,
                round: r.round + 1,
                terms,
                window_closes_at: window(at, *window_hours),
                by: by.user_id.clone(),
                at,
            });
            Ok(events)
        }
        C::CancelCareRequest { request_id, reason, by } => {
            let r = posted(loaded, *request_id)?;
            if r.status == RequestStatus::Cancelled {
                return Ok(Vec::new());
            }
            let mut events = decline_live(*request_id, r, DeclineReason::RequestCancelled, at);
            if let Some(p) = &r.placement {
                events.push(BrokerageEvent::CapacityReleased {
                    ods: p.provider.clone(),
                    request_id: *request_id,
                    beds: p.capacity.0,
                    hours: p.capacity.1,
                    at,
                });
            }
            events.push(BrokerageEvent::CareRequestCancelled {
                request_id: *request_id,
                reason: reason.clone(),
                by: by.user_id.clone(),
                at,
            });
            Ok(events)
        }
        C::MakeOffer { request_id, offer_id, provider: ods, weekly_price, earliest_start, note, by } => {
            let r = posted(loaded, *request_id)?;
            if r.offers.contains_key(offer_id) {
                return Err(BrokerageError::OfferIs {
                    offer_id: *offer_id,
                    status: "already made",
                    verb: "made again",
                });
            }
            if r.status != RequestStatus::Open {
                return Err(BrokerageError::RequestIs {
                    request_id: *request_id,
                    status: r.status.as_str(),
                    verb: "offered on",
                });
            }
            if at >= r.window_closes_at {
                return Err(BrokerageError::WindowClosed {
                    request_id: *request_id,
                    closed_at: r.window_closes_at,
                });
            }
            let p = registered(loaded, ods)?;
            p.eligible(r.need, &r.district).map_err(|why| BrokerageError::NotEligible {
                ods: ods.clone(),
                request_id: *request_id,
                why,
            })?;
            let made = r.offers.values().filter(|o| o.provider == *ods).count();
            if made >= MAX_OFFERS_PER_PROVIDER {
                return Err(BrokerageError::TooManyOffers {
                    ods: ods.clone(),
                    request_id: *request_id,
                    max: MAX_OFFERS_PER_PROVIDER,
                });
            }
            if let Some(live) = r.live_offer_of(ods) {
                return Err(BrokerageError::OfferAlreadyLive {
                    ods: ods.clone(),
                    request_id: *request_id,
                    offer_id: live,
                });
            }
            if *earliest_start < at.date_naive() {
                return Err(BrokerageError::DateInThePast { field: "earliest_start", date: *earliest_start });
            }
            let (profile, cqc) = match (&p.profile, p.cqc) {
                (Some(profile), Some(cqc)) => (profile, cqc),
                _ => return Err(BrokerageError::ProviderNotFound { ods: ods.clone() }),
            };
            Ok(vec![BrokerageEvent::OfferMade {
                request_id: *request_id,
                offer_id: *offer_id,
                round: r.round,
                provider: ods.clone(),
                provider_name: profile.name.clone(),
                cqc,
                home_district: profile.home_district.clone(),
                weekly_price: *weekly_price,
                earliest_start: *earliest_start,
                note: note.clone(),
                by: by.user_id.clone(),
                at,
            }])
        }
        C::WithdrawOffer { request_id, offer_id, by } => {
            let r = posted(loaded, *request_id)?;
            let offer = r
                .offers
                .get(offer_id)
                .ok_or(BrokerageError::OfferNotFound { request_id: *request_id, offer_id: *offer_id })?;
            if offer.provider != by.organisation {
                return Err(BrokerageError::NotYourOffer { organisation: by.organisation.clone() });
            }
            match offer.status {
                OfferStatus::Withdrawn => Ok(Vec::new()),
                OfferStatus::Live => Ok(vec![BrokerageEvent::OfferWithdrawn {
                    request_id: *request_id,
                    offer_id: *offer_id,
                    by: by.user_id.clone(),
                    at,
                }]),
                other => Err(BrokerageError::OfferIs {
                    offer_id: *offer_id,
                    status: offer_status(other),
                    verb: "withdrawn (hand the placement back instead)",
                }),
            }
        }
        C::AcceptOffer { request_id, offer_id, by } => {
            let r = posted(loaded, *request_id)?;
            let offer = r
                .offers
                .get(offer_id)
                .ok_or(BrokerageError::OfferNotFound { request_id: *request_id, offer_id: *offer_id })?;
            if offer.status == OfferStatus::Accepted && r.status == RequestStatus::Placed {
                return Ok(Vec::new());
            }
            if !matches!(r.status, RequestStatus::Open | RequestStatus::WindowClosed) {
                return Err(BrokerageError::RequestIs {
                    request_id: *request_id,
                    status: r.status.as_str(),
                    verb: "awarded",
                });
            }
            if offer.status != OfferStatus::Live {
                return Err(BrokerageError::OfferIs {
                    offer_id: *offer_id,
                    status: offer_status(offer.status),
                    verb: "accepted",
                });
            }
            // Still able to take the person: not suspended since, a bed or the hours still free.
            let p = registered(loaded, &offer.provider)?;
            p.eligible(r.need, &r.district).map_err(|why| BrokerageError::NotEligible {
                ods: offer.provider.clone(),
                request_id: *request_id,
                why,
            })?;
            let rule = ranking(loaded, &r.organisation).rule();
            let live: Vec<Candidate<'_>> = r
                .live()
                .map(|(id, o)| Candidate {
                    offer_id: *id,
                    provider: &o.provider,
                    rating: o.cqc.rating,
                    home_district: &o.home_district,
                    weekly_price: o.weekly_price,
                    earliest_start: o.earliest_start,
                    made_at: o.made_at,
                })
                .collect();
            let wanted =
                Wanted { budget: r.terms.weekly_budget, start_by: r.terms.start_by, district: &r.district };
            let ranked = ranking::rank(&rule, &wanted, &live);
            let place = ranked.iter().find(|o| o.offer_id == *offer_id);
            let (beds, hours) = capacity_of(r.need);
            let mut events = vec![BrokerageEvent::PlacementAgreed {
                request_id: *request_id,
                offer_id: *offer_id,
                organisation: r.organisation.clone(),
                nhs_number: r.nhs_number,
                provider: offer.provider.clone(),
                provider_name: offer.provider_name.clone(),
                care_type: r.need.care_type(),
                weekly_price: offer.weekly_price,
                start_date: offer.earliest_start,
                rank: place.map_or(0, |p| p.rank),
                of: u32::try_from(ranked.len()).unwrap_or(u32::MAX),
                score: place.map_or(0, |p| p.score),
                by: by.user_id.clone(),
                at,
            }];
            events.extend(r.live().filter(|(id, _)| *id != offer_id).map(|(id, _)| {
                BrokerageEvent::OfferDeclined {
                    request_id: *request_id,
                    offer_id: *id,
                    reason: DeclineReason::AnotherOfferAccepted,
                    at,
                }
            }));
            events.push(BrokerageEvent::CapacityCommitted {
                ods: offer.provider.clone(),
                request_id: *request_id,
                beds,
                hours,
                at,
            });
            Ok(events)
        }
        C::HandBackPlacement { request_id, reason, by } => {
            let r = posted(loaded, *request_id)?;
            let placement = r.placement.as_ref().ok_or(BrokerageError::RequestIs {
                request_id: *request_id,
                status: r.status.as_str(),
                verb: "handed back (it has no placement)",
            })?;
            if placement.provider != by.organisation {
                return Err(BrokerageError::NotYourOffer { organisation: by.organisation.clone() });
            }
            Ok(vec![
                BrokerageEvent::PlacementHandedBack {
                    request_id: *request_id,
                    provider: placement.provider.clone(),
                    nhs_number: r.nhs_number,
                    reason: reason.clone(),
                    by: by.user_id.clone(),
                    at,
                },
                BrokerageEvent::CapacityReleased {
                    ods: placement.provider.clone(),
                    request_id: *request_id,
                    beds: placement.capacity.0,
                    hours: placement.capacity.1,
                    at,
                },
                BrokerageEvent::CareRequestReposted {
                    request_id: *request_id,
                    round: r.round + 1,
                    terms: Terms { start_by: r.terms.start_by.max(at.date_naive()), ..r.terms },
                    window_closes_at: window(at, DEFAULT_WINDOW_HOURS),
                    by: by.user_id.clone(),
                    at,
                },
            ])
        }
    }
}

/// The most offers one provider may make on one request, over every round (made and withdrawn
/// again and again, they would grow the request without end).
pub const MAX_OFFERS_PER_PROVIDER: usize = 10;

/// The offer window unless the broker says otherwise.
pub const DEFAULT_WINDOW_HOURS: u16 = 24;

fn offer_status(status: OfferStatus) -> &'static str {
    match status {
        OfferStatus::Live => "live",
        OfferStatus::Withdrawn => "withdrawn",
        OfferStatus::Declined => "declined",
        OfferStatus::Accepted => "accepted",
        OfferStatus::HandedBack => "handed back",
    }
}
