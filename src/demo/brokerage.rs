//! The demo's care market: Airedale Council's (LA001) providers — four care homes and a
//! home-care agency, one of them suspended after an Inadequate rating — with their vacancies,
//! and its care requests at every stage: a home care request with one offer about to close,
//! a residential and a nursing request with two offers each, a residential request no one has
//! offered on yet, and one placed (whose ward now has the discharge task). Each request is
//! posted from a trusted assessment completed and submitted for a patient on the wards, by the
//! council's broker (Nadia Kerrigan); every command is decided at its own time on the demo's
//! timeline, so the windows close in hours, not all at once.

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::Context;
use careflow_auth::policy::Action;
use careflow_auth::{Actor, Role};
use careflow_domain::OdsCode;
use careflow_domain::assessments::AssessmentId;
use careflow_domain::beds::{Label, Note};
use careflow_domain::brokerage::{
    BedType, Brokerage, BrokerageCommand, CareRequestId, CareType, Cqc, CqcRating, DEFAULT_WINDOW_HOURS,
    Need, OfferId, Party, Pence, ProviderProfile, Terms,
};
use careflow_domain::tasks::{District, UserId};
use careflow_eventstore::EventStore;
use careflow_services::CommandHandler;
use chrono::{Duration, NaiveDate, Utc};

use super::{assessments, demo_context, handle_at};

/// The council whose market it is.
pub const COUNCIL: &str = "LA001";
/// Its broker and commissioner (the personas).
pub const BROKER: &str = "broker.la001";
/// See [`BROKER`].
pub const COMMISSIONER: &str = "commissioner.la001";

/// A demo provider: ODS code, name, services, districts, beds (or hours), free, rating.
type DemoProvider =
    (&'static str, &'static str, &'static [CareType], &'static [&'static str], u32, u32, CqcRating);

const PROVIDERS: [DemoProvider; 5] = [
    (
        "VN101",
        "Oakleigh Care Home",
        &[CareType::Residential, CareType::Nursing],
        &["LS6", "LS7", "LS8"],
        40,
        3,
        CqcRating::Good,
    ),
    (
        "VN102",
        "Beechwood Nursing Home",
        &[CareType::Residential, CareType::Nursing],
        &["LS7", "LS8"],
        60,
        2,
        CqcRating::Outstanding,
    ),
    ("VN103", "Holly Bank", &[CareType::Residential], &["LS6"], 25, 1, CqcRating::RequiresImprovement),
    (
        "VN104",
        "Kindred Homecare",
        &[CareType::HomeCare, CareType::Reablement],
        &["LS6", "LS7", "LS8"],
        600,
        120,
        CqcRating::Good,
    ),
    (
        "VN105",
        "Marsh Lane Care Home",
        &[CareType::Residential],
        &["LS6", "LS7"],
        30,
        4,
        CqcRating::Inadequate,
    ),
];

/// A demo request: the patient, whether assessed for a care home, what is needed, where, the
/// budget (pence a week), hours ago posted, the offers (provider, pence, hours ago), and the
/// provider accepted (hours ago).
struct DemoRequest {
    patient: u32,
    care_home: bool,
    need: Need,
    district: &'static str,
    budget: u64,
    posted: i64,
    offers: &'static [(&'static str, u64, i64)],
    accepted: Option<(&'static str, i64)>,
}

const REQUESTS: [DemoRequest; 5] = [
    DemoRequest {
        patient: 3,
        care_home: false,
        need: Need::HomeCare { hours_per_week: 14 },
        district: "LS8",
        budget: 35_000,
        posted: 20,
        offers: &[("VN104", 33_600, 18)],
        accepted: None,
    },
    DemoRequest {
        patient: 4,
        care_home: true,
        need: Need::Residential { bed_type: BedType::Standard },
        district: "LS6",
        budget: 95_000,
        posted: 6,
        offers: &[("VN101", 93_000, 5), ("VN103", 88_000, 4)],
        accepted: None,
    },
    DemoRequest {
        patient: 5,
        care_home: true,
        need: Need::Nursing { bed_type: BedType::Standard },
        district: "LS7",
        budget: 120_000,
        posted: 3,
        offers: &[("VN101", 118_000, 2), ("VN102", 124_000, 1)],
        accepted: None,
    },
    DemoRequest {
        patient: 6,
        care_home: true,
        need: Need::Residential { bed_type: BedType::Standard },
        district: "LS8",
        budget: 98_000,
        posted: 1,
        offers: &[],
        accepted: None,
    },
    // Patient 7 went home yesterday; patient 8 is on the Acute Medical Unit.
    DemoRequest {
        patient: 8,
        care_home: true,
        need: Need::Residential { bed_type: BedType::Standard },
        district: "LS6",
        budget: 95_000,
        posted: 30,
        offers: &[("VN101", 91_000, 29), ("VN103", 86_000, 28)],
        accepted: Some(("VN101", 8)),
    },
];

fn party(user: &str, organisation: &str) -> anyhow::Result<Party> {
    Ok(Party { user_id: UserId::parse(user)?, organisation: OdsCode::parse(organisation)? })
}

fn actor(user: &str, role: Role, organisation: &str) -> Actor {
    Actor { user_id: user.into(), role, organisation: organisation.into(), teams: Vec::new() }
}

fn manager(ods: &str) -> String {
    format!("manager.{}", ods.to_lowercase())
}

fn district(d: &str) -> anyhow::Result<District> {
    District::parse(d).with_context(|| format!("demo district {d}"))
}

/// Loads the market (after the wards, the patients and their assessments).
pub async fn load(store: Arc<dyn EventStore>) -> anyhow::Result<()> {
    let handler = CommandHandler::<Brokerage>::new(store.clone());
    let now = Utc::now();
    let day = |n: i64| now.date_naive() + Duration::days(n);
    let long_ago = now - Duration::days(2);
    for (ods, name, services, districts, capacity, free, rating) in PROVIDERS {
        let homes = services.iter().any(|s| s.bed_based());
        let profile = ProviderProfile {
            name: Label::parse(name)?,
            services: services.iter().copied().collect(),
            bed_types: if homes { [BedType::Standard, BedType::Dementia].into() } else { BTreeSet::new() },
            districts: districts.iter().map(|d| district(d)).collect::<anyhow::Result<_>>()?,
            home_district: district(districts[0])?,
            registered_beds: if homes { capacity } else { 0 },
            weekly_hours: if homes { 0 } else { capacity },
            rates: services
                .iter()
                .map(|s| {
                    (*s, Pence(if s.bed_based() { 90_000 + u64::from(capacity) * 100 } else { 2_400 * 14 }))
                })
                .collect(),
        };
        let rated_on = NaiveDate::from_ymd_opt(2025, 9, 18).context("a date")?;
        let who = actor(&manager(ods), Role::CareProvider, ods);
        let by = party(&manager(ods), ods)?;
        let register = BrokerageCommand::RegisterProvider {
            ods: OdsCode::parse(ods)?,
            profile,
            cqc: Cqc { rating, rated_on },
            by: by.clone(),
        };
        handle_at(&handler, &who, &format!("provider/{ods}"), Action::OfferCare, long_ago, register).await?;
        let (beds_free, hours_free) = if homes { (free, 0) } else { (0, free) };
        let vacancies = BrokerageCommand::UpdateVacancies {
            ods: OdsCode::parse(ods)?,
            beds_free,
            hours_free,
            rates: None,
            by,
        };
        handle_at(&handler, &who, &format!("vacancies/{ods}"), Action::OfferCare, long_ago, vacancies)
            .await?;
        if rating == CqcRating::Inadequate {
            let suspend = BrokerageCommand::SuspendProvider {
                ods: OdsCode::parse(ods)?,
                reason: Note::parse("Rated Inadequate by CQC: no new placements until re-inspected")?,
                by: party(COMMISSIONER, COUNCIL)?,
            };
            let commissioner = actor(COMMISSIONER, Role::Commissioner, COUNCIL);
            handle_at(
                &handler,
                &commissioner,
                &format!("suspend/{ods}"),
                Action::CommissionCare,
                long_ago,
                suspend,
            )
            .await?;
        }
    }
    let broker = actor(BROKER, Role::Broker, COUNCIL);
    for demo in REQUESTS {
        let key = |what: &str| format!("care-request/{}/{what}", demo.patient);
        let posted_at = now - Duration::hours(demo.posted);
        // Patient 3's reablement assessment is the assessments demo's submitted one (to a
        // provider: the council assessed, so its broker may post from it).
        let assessed = posted_at - Duration::hours(2);
        let assessment: AssessmentId =
            assessments::submitted(store.clone(), demo.patient, 7, demo.care_home, assessed).await?;
        let post = BrokerageCommand::PostCareRequest {
            request_id: CareRequestId::for_assessment(assessment),
            assessment_id: assessment,
            need: demo.need,
            district: district(demo.district)?,
            terms: Terms { start_by: day(3), weekly_budget: Pence(demo.budget) },
            // Still open now, whatever the demo's clock says: careflow's clock may run while
            // the demo loads, and would close a window already past before its offers arrive.
            window_hours: DEFAULT_WINDOW_HOURS
                .max(u16::try_from(demo.posted + 6).unwrap_or(DEFAULT_WINDOW_HOURS)),
            by: party(BROKER, COUNCIL)?,
        };
        let request_id = CareRequestId::for_assessment(assessment);
        handle_at(&handler, &broker, &key("post"), Action::BrokerCare, posted_at, post).await?;
        let mut offers: Vec<(&str, OfferId)> = Vec::new();
        for (ods, pence, hours_ago) in demo.offers {
            let who = actor(&manager(ods), Role::CareProvider, ods);
            let offer_key = key(&format!("offer/{ods}"));
            let offer_id = OfferId(demo_context(&who, &offer_key).derived_id("offer"));
            let offer = BrokerageCommand::MakeOffer {
                request_id,
                offer_id,
                provider: OdsCode::parse(ods)?,
                weekly_price: Pence(*pence),
                earliest_start: day(2),
                note: Some(Note::parse("Room available with en-suite; can assess on the ward tomorrow")?),
                by: party(&manager(ods), ods)?,
            };
            handle_at(
                &handler,
                &who,
                &offer_key,
                Action::OfferCare,
                now - Duration::hours(*hours_ago),
                offer,
            )
            .await?;
            offers.push((ods, offer_id));
        }
        if let Some((winner, hours_ago)) = demo.accepted {
            let offer_id =
                offers.iter().find(|(o, _)| *o == winner).map(|(_, id)| *id).context("the winner offered")?;
            let accept = BrokerageCommand::AcceptOffer { request_id, offer_id, by: party(BROKER, COUNCIL)? };
            handle_at(
                &handler,
                &broker,
                &key("accept"),
                Action::BrokerCare,
                now - Duration::hours(hours_ago),
                accept,
            )
            .await?;
        }
    }
    Ok(())
}
