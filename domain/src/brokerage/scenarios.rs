//! Given/when/then scenarios for the brokerage context: registering providers and their
//! vacancies, posting a request from a submitted assessment (and what providers see of it),
//! eligibility, one live offer per provider, the window, accepting (and its ranking), handing
//! back, withdrawing, re-posting and cancelling.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::assessments::{AssessmentEvent, Contributor, RoleName, TemplateContent};
use crate::decider::{Decider, Loaded, Owner, Refusal, RefusalKind};
use crate::{NhsNumber, QuestionId, SectionId, TemplateId};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 3, 9, 0, 0).single().expect("valid")
}

fn today() -> NaiveDate {
    at().date_naive()
}

fn ods(s: &str) -> OdsCode {
    OdsCode::parse(s).expect("ods")
}

fn district(s: &str) -> District {
    District::parse(s).expect("district")
}

fn nhs() -> NhsNumber {
    (0..).find_map(|j| NhsNumber::from_first_nine(999_420_000 + j)).expect("a valid test number")
}

fn party(user: &str, org: &str) -> Party {
    Party { user_id: UserId::parse(user).expect("user"), organisation: ods(org) }
}

fn broker() -> Party {
    party("broker.la", "LA001")
}

fn home(org: &str) -> Party {
    party(&format!("manager.{org}"), org)
}

fn request_id() -> CareRequestId {
    CareRequestId(Uuid::from_u128(7))
}

fn offer_id(k: u128) -> OfferId {
    OfferId(Uuid::from_u128(100 + k))
}

fn assessment_id() -> AssessmentId {
    AssessmentId(Uuid::from_u128(3))
}

fn template_id() -> TemplateId {
    TemplateId::parse("care-home-trusted-assessment").expect("id")
}

fn template() -> TemplateContent {
    serde_json::from_str(include_str!("../../templates/care-home-trusted-assessment.json")).expect("template")
}

fn nurse() -> Contributor {
    Contributor {
        user_id: UserId::parse("nurse.rxa").expect("user"),
        role: RoleName::parse("ward_nurse").expect("role"),
        organisation: ods("RXA"),
    }
}

fn profile(name: &str, services: &[CareType], beds: u32, hours: u32) -> ProviderProfile {
    ProviderProfile {
        name: Label::parse(name).expect("label"),
        services: services.iter().copied().collect(),
        bed_types: if beds > 0 { [BedType::Standard, BedType::Dementia].into() } else { BTreeSet::new() },
        districts: [district("LS6"), district("LS12")].into(),
        home_district: district("LS6"),
        registered_beds: beds,
        weekly_hours: hours,
        rates: BTreeMap::new(),
    }
}

fn good() -> Cqc {
    Cqc { rating: CqcRating::Good, rated_on: NaiveDate::from_ymd_opt(2025, 6, 1).expect("date") }
}

fn register(org: &str, beds: u32) -> BrokerageCommand {
    BrokerageCommand::RegisterProvider {
        ods: ods(org),
        profile: profile(&format!("{org} care home"), &[CareType::Residential, CareType::Nursing], beds, 0),
        cqc: good(),
        by: home(org),
    }
}

fn residential() -> Need {
    Need::Residential { bed_type: BedType::Standard }
}

fn post(need: Need) -> BrokerageCommand {
    BrokerageCommand::PostCareRequest {
        request_id: request_id(),
        assessment_id: assessment_id(),
        need,
        district: district("LS6"),
        terms: Terms { start_by: today() + Duration::days(3), weekly_budget: Pence(95_000) },
        window_hours: DEFAULT_WINDOW_HOURS,
        by: broker(),
    }
}

fn offer(k: u128, org: &str, pence: u64) -> BrokerageCommand {
    BrokerageCommand::MakeOffer {
        request_id: request_id(),
        offer_id: offer_id(k),
        provider: ods(org),
        weekly_price: Pence(pence),
        earliest_start: today() + Duration::days(2),
        note: None,
        by: home(org),
    }
}

fn accept(k: u128) -> BrokerageCommand {
    BrokerageCommand::AcceptOffer { request_id: request_id(), offer_id: offer_id(k), by: broker() }
}

fn note(s: &str) -> Note {
    Note::parse(s).expect("note")
}

/// The template published, and an assessment of it started, every section saved and submitted
/// to `to`.
fn assessment(to: &str, submitted: bool) -> Vec<BrokerageStreamEvent> {
    let content = template();
    let a = assessment_id();
    let mut events = vec![
        AssessmentEvent::TemplatePublished {
            template_id: template_id(),
            version: 1,
            content: content.clone(),
            by: nurse(),
            at: at(),
        },
        AssessmentEvent::AssessmentStarted {
            assessment_id: a,
            nhs_number: nhs(),
            template_id: template_id(),
            template_version: 1,
            organisation: ods("RXA"),
            task_id: None,
            by: nurse(),
            at: at(),
        },
    ];
    let answer = |section: &str| -> Answers {
        let q = |s: &str| QuestionId::parse(s).expect("question");
        match section {
            "about-the-person" => [
                (q("consents-to-assessment"), Answer::YesNo(true)),
                (q("next-of-kin"), Answer::Text("Daughter, Jo Testperson, 07700 900123".into())),
            ]
            .into(),
            "health-and-care-needs" => [
                (q("mobility"), Answer::Choice(q("help-of-two"))),
                (q("clinical-frailty-scale"), Answer::Score(7)),
                (q("nursing-needs"), Answer::Text("Lives at 4 Privet Drive".into())),
            ]
            .into(),
            _ => [
                (q("placement-type"), Answer::Choice(q("residential"))),
                (q("placement-summary"), Answer::Text("Needs two carers for transfers.".into())),
            ]
            .into(),
        }
    };
    for section in &content.sections {
        events.push(AssessmentEvent::SectionSaved {
            assessment_id: a,
            section_id: SectionId::parse(section.id.as_str()).expect("id"),
            version: 1,
            answers: answer(section.id.as_str()),
            by: nurse(),
            at: at(),
        });
    }
    if submitted {
        events.push(AssessmentEvent::AssessmentSubmitted {
            assessment_id: a,
            to: [ods(to)].into(),
            by: nurse(),
            at: at(),
        });
    }
    events.into_iter().map(BrokerageStreamEvent::Assessment).collect()
}

use crate::assessments::{Answer, Answers};

#[derive(Default)]
struct World {
    loaded: Loaded<Brokerage>,
}

impl World {
    fn given(events: impl IntoIterator<Item = BrokerageStreamEvent>) -> Self {
        let mut world = Self::default();
        for event in events {
            world.loaded.apply(&event);
        }
        world
    }

    /// Two care homes registered, and a request for a residential bed posted.
    fn market() -> Self {
        let mut world = Self::given(assessment("LA001", true));
        world.then(&register("VN001", 30), at());
        world.then(&register("VN002", 40), at());
        world.then(&post(residential()), at());
        world
    }

    fn load_all(&mut self, command: &BrokerageCommand) {
        for _ in 0..4 {
            for stream in self.loaded.missing(command) {
                self.loaded.load(&stream, []);
            }
        }
    }

    fn when(
        &mut self,
        command: &BrokerageCommand,
        now: DateTime<Utc>,
    ) -> Result<Vec<BrokerageEvent>, BrokerageError> {
        self.load_all(command);
        let events = Brokerage::decide(&self.loaded, command, now)?;
        for event in &events {
            self.loaded.apply(event);
        }
        Ok(events
            .into_iter()
            .filter_map(|e| match e {
                BrokerageStreamEvent::Brokerage(e) => Some(e),
                BrokerageStreamEvent::Assessment(_) => None,
            })
            .collect())
    }

    fn then(&mut self, command: &BrokerageCommand, now: DateTime<Utc>) -> Vec<BrokerageEvent> {
        self.when(command, now).expect("the command is carried out")
    }

    fn request(&self) -> &CareRequest {
        match self.loaded.get(&BrokerageStream::Request(request_id())) {
            Some(BrokerageStreamState::Request(r)) => r.request.as_ref().expect("posted"),
            _ => panic!("no request"),
        }
    }

    fn provider(&self, org: &str) -> &ProviderState {
        match self.loaded.get(&BrokerageStream::Provider(ods(org))) {
            Some(BrokerageStreamState::Provider(p)) => p,
            _ => panic!("no provider {org}"),
        }
    }

    fn owners(&mut self, command: &BrokerageCommand) -> Vec<Owner> {
        self.load_all(command);
        Brokerage::owners(&self.loaded, command)
    }
}

#[test]
fn a_provider_registers_itself_and_keeps_its_vacancies() {
    let mut world = World::default();
    let command = register("VN001", 30);
    assert_eq!(world.owners(&command), [Owner::Organisation(ods("VN001"))]);
    assert!(matches!(&world.then(&command, at())[..], [BrokerageEvent::ProviderRegistered { .. }]));
    assert_eq!(world.provider("VN001").beds_free, 30);
    // The same again: nothing; a change: the profile changes.
    assert!(world.then(&command, at()).is_empty());
    // Registered by someone else's organisation: refused.
    let BrokerageCommand::RegisterProvider { ods: o, profile: p, cqc, .. } = register("VN003", 5) else {
        unreachable!()
    };
    let other = BrokerageCommand::RegisterProvider { ods: o, profile: p, cqc, by: home("VN001") };
    let refused = world.when(&other, at()).expect_err("refused");
    assert_eq!(refused.kind(), RefusalKind::Forbidden);
    // Vacancies: never more than registered; the rates only for services offered.
    let vacancies = |beds, rates: Option<BTreeMap<CareType, Pence>>| BrokerageCommand::UpdateVacancies {
        ods: ods("VN001"),
        beds_free: beds,
        hours_free: 0,
        rates,
        by: home("VN001"),
    };
    assert!(matches!(
        &world.then(&vacancies(2, None), at())[..],
        [BrokerageEvent::VacanciesUpdated { beds_free: 2, .. }]
    ));
    let too_many = world.when(&vacancies(31, None), at()).expect_err("refused");
    assert_eq!(
        too_many.violations(),
        [("beds_free".to_owned(), "must be at most the 30 registered".to_owned())]
    );
    let wrong_rate =
        world.when(&vacancies(2, Some([(CareType::HomeCare, Pence(1))].into())), at()).expect_err("refused");
    assert_eq!(wrong_rate.violations()[0].0, "rates");
}

#[test]
fn a_profile_must_hold_together() {
    let mut p = profile("Agency", &[CareType::HomeCare], 0, 0);
    assert_eq!(p.check().map_err(|e| e.0), Err("weekly_hours"));
    p.weekly_hours = 400;
    assert_eq!(p.check(), Ok(()));
    p.registered_beds = 3;
    assert_eq!(p.check().map_err(|e| e.0), Err("registered_beds"));
    let mut home = profile("Home", &[CareType::Nursing], 0, 0);
    assert_eq!(home.check().map_err(|e| e.0), Err("registered_beds"));
    home.registered_beds = 10;
    home.districts.clear();
    assert_eq!(home.check().map_err(|e| e.0), Err("districts"));
}

#[test]
fn a_request_needs_an_assessment_submitted_to_the_council() {
    for (to, submitted) in [("LA001", false), ("LA999", true)] {
        let mut world = World::given(assessment(to, submitted));
        let refused = world.when(&post(residential()), at()).expect_err("refused");
        assert!(matches!(refused, BrokerageError::AssessmentNotSubmitted { .. }), "{refused}");
        assert!(!refused.to_string().contains(&nhs().to_string()), "{refused}");
    }
    let mut world = World::given(assessment("LA001", true));
    assert_eq!(world.owners(&post(residential())), [Owner::New]);
    let events = world.then(&post(residential()), at());
    let [BrokerageEvent::CareRequestPosted { organisation, nhs_number, window_closes_at, .. }] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!((organisation, *nhs_number), (&ods("LA001"), nhs()));
    assert_eq!(*window_closes_at, at() + Duration::hours(24));
    // Posting again under the same id: refused; a start date in the past: refused, named.
    assert_eq!(world.when(&post(residential()), at()).expect_err("x").kind(), RefusalKind::AlreadyExists);
    let mut world = World::given(assessment("LA001", true));
    let BrokerageCommand::PostCareRequest {
        request_id, assessment_id, need, district, window_hours, by, ..
    } = post(residential())
    else {
        unreachable!()
    };
    let late = BrokerageCommand::PostCareRequest {
        request_id,
        assessment_id,
        need,
        district,
        terms: Terms { start_by: today() - Duration::days(1), weekly_budget: Pence(1) },
        window_hours,
        by,
    };
    assert_eq!(world.when(&late, at()).expect_err("x").violations()[0].0, "start_by");
}

/// Providers see structured answers, and free text only from the section shared with them:
/// never the next of kin, never a note that happens to hold an address.
#[test]
fn providers_see_the_care_needs_and_nothing_identifying() {
    let world = World::market();
    let needs = &world.request().needs;
    let shown: Vec<(&str, &str)> =
        needs.items.iter().map(|i| (i.question.as_str(), i.answer.as_str())).collect();
    assert!(shown.iter().any(|(_, a)| a.starts_with("7 — ")), "{shown:?}");
    assert!(shown.iter().any(|(_, a)| *a == "Needs the help of two"), "{shown:?}");
    assert!(shown.iter().any(|(_, a)| *a == "Needs two carers for transfers."), "{shown:?}");
    // Consent, next of kin: the section is withheld from providers, structured answers too.
    assert!(!shown.iter().any(|(q, _)| q.contains("consented")), "{shown:?}");
    let all = serde_json::to_string(needs).expect("json");
    for secret in ["Jo Testperson", "07700", "Privet Drive", &nhs().to_string()] {
        assert!(!all.contains(secret), "{secret} in {all}");
    }
}

#[test]
fn eligible_providers_offer_once_each_while_the_window_is_open() {
    let mut world = World::market();
    assert_eq!(world.owners(&offer(1, "VN001", 90_000)), [Owner::Organisation(ods("VN001"))]);
    let made = world.then(&offer(1, "VN001", 90_000), at());
    assert!(matches!(&made[..], [BrokerageEvent::OfferMade { round: 1, cqc, .. }] if *cqc == good()));
    // A second live offer of the same provider: refused until it withdraws.
    let again = world.when(&offer(2, "VN001", 85_000), at()).expect_err("refused");
    assert!(matches!(again, BrokerageError::OfferAlreadyLive { .. }), "{again}");
    let withdraw = BrokerageCommand::WithdrawOffer {
        request_id: request_id(),
        offer_id: offer_id(1),
        by: home("VN001"),
    };
    assert_eq!(world.owners(&withdraw), [Owner::Organisation(ods("VN001"))]);
    assert!(matches!(&world.then(&withdraw, at())[..], [BrokerageEvent::OfferWithdrawn { .. }]));
    assert!(world.then(&withdraw, at()).is_empty(), "withdrawn twice: nothing more");
    world.then(&offer(2, "VN001", 85_000), at());
    // Another provider may not withdraw it.
    let theirs = BrokerageCommand::WithdrawOffer {
        request_id: request_id(),
        offer_id: offer_id(2),
        by: home("VN002"),
    };
    assert_eq!(world.when(&theirs, at()).expect_err("refused").kind(), RefusalKind::Forbidden);
    // After the window: no more offers.
    let late = world.when(&offer(3, "VN002", 80_000), at() + Duration::hours(24)).expect_err("refused");
    assert!(matches!(late, BrokerageError::WindowClosed { .. }), "{late}");
}

/// Made and withdrawn again and again, offers would grow a request without end: ten each.
#[test]
fn a_provider_makes_at_most_ten_offers_on_one_request() {
    let mut world = World::market();
    for k in 0..10 {
        world.then(&offer(k, "VN001", 90_000 + k as u64), at());
        let withdraw = BrokerageCommand::WithdrawOffer {
            request_id: request_id(),
            offer_id: offer_id(k),
            by: home("VN001"),
        };
        world.then(&withdraw, at());
    }
    let refused = world.when(&offer(10, "VN001", 80_000), at()).expect_err("the eleventh");
    assert!(matches!(refused, BrokerageError::TooManyOffers { max: 10, .. }), "{refused}");
    world.then(&offer(11, "VN002", 80_000), at());
}

#[test]
fn only_eligible_providers_may_offer() {
    let mut world = World::market();
    // An agency: not the care type.
    world.then(
        &BrokerageCommand::RegisterProvider {
            ods: ods("VN010"),
            profile: profile("Homecare", &[CareType::HomeCare], 0, 200),
            cqc: good(),
            by: home("VN010"),
        },
        at(),
    );
    // A home in another area.
    let mut far = profile("Far", &[CareType::Residential], 10, 0);
    far.districts = [district("BD7")].into();
    world.then(
        &BrokerageCommand::RegisterProvider {
            ods: ods("VN011"),
            profile: far,
            cqc: good(),
            by: home("VN011"),
        },
        at(),
    );
    // A home with no bed free.
    world.then(
        &BrokerageCommand::UpdateVacancies {
            ods: ods("VN002"),
            beds_free: 0,
            hours_free: 0,
            rates: None,
            by: home("VN002"),
        },
        at(),
    );
    // A suspended home.
    world.then(&register("VN003", 10), at());
    world.then(
        &BrokerageCommand::SuspendProvider {
            ods: ods("VN003"),
            reason: note("Rated Inadequate"),
            by: party("c.la", "LA001"),
        },
        at(),
    );
    for (org, why) in [
        ("VN010", "does not offer this care type"),
        ("VN011", "does not serve this district"),
        ("VN002", "has no bed free"),
        ("VN003", "is suspended"),
    ] {
        let refused = world.when(&offer(9, org, 80_000), at()).expect_err(org);
        assert!(
            matches!(&refused, BrokerageError::NotEligible { why: w, .. } if *w == why),
            "{org}: {refused}"
        );
    }
    assert_eq!(world.when(&offer(9, "VN999", 80_000), at()).expect_err("x").kind(), RefusalKind::NotFound);
    // Reinstated: it may offer again.
    world.then(&BrokerageCommand::ReinstateProvider { ods: ods("VN003"), by: party("c.la", "LA001") }, at());
    world.then(&offer(9, "VN003", 80_000), at());
}

#[test]
fn the_clock_closes_the_window_of_its_round_only() {
    let mut world = World::market();
    world.then(&offer(1, "VN001", 90_000), at());
    let close = BrokerageCommand::CloseOfferWindow { request_id: request_id(), round: 1 };
    let early = world.when(&close, at() + Duration::hours(23)).expect_err("early");
    assert!(matches!(early, BrokerageError::WindowNotYetClosed { .. }));
    let closed = world.then(&close, at() + Duration::hours(24));
    assert!(matches!(&closed[..], [BrokerageEvent::OfferWindowClosed { offers: 1, .. }]));
    assert_eq!(world.request().status, RequestStatus::WindowClosed);
    assert!(world.then(&close, at() + Duration::hours(25)).is_empty(), "closed twice: nothing more");
    // The broker may still accept.
    let placed = world.then(&accept(1), at() + Duration::hours(25));
    assert!(matches!(&placed[0], BrokerageEvent::PlacementAgreed { rank: 1, of: 1, .. }));
    // A stale round's timer: nothing.
    assert!(
        world
            .then(&BrokerageCommand::CloseOfferWindow { request_id: request_id(), round: 0 }, at())
            .is_empty()
    );
}

#[test]
fn accepting_agrees_the_placement_declines_the_rest_and_takes_a_bed() {
    let mut world = World::market();
    world.then(&offer(1, "VN001", 90_000), at());
    world.then(&offer(2, "VN002", 80_000), at());
    assert_eq!(world.owners(&accept(2)), [Owner::Organisation(ods("LA001"))]);
    let events = world.then(&accept(2), at() + Duration::hours(1));
    let [
        BrokerageEvent::PlacementAgreed { provider, nhs_number, rank, of, start_date, weekly_price, .. },
        BrokerageEvent::OfferDeclined {
            offer_id: declined, reason: DeclineReason::AnotherOfferAccepted, ..
        },
        BrokerageEvent::CapacityCommitted { ods: committed, beds: 1, hours: 0, .. },
    ] = &events[..]
    else {
        panic!("{events:?}")
    };
    assert_eq!((provider, committed, *nhs_number), (&ods("VN002"), &ods("VN002"), nhs()));
    // Equal ratings: the cheaper ranks first under 60/40.
    assert_eq!((*rank, *of, *declined, *weekly_price), (1, 2, offer_id(1), Pence(80_000)));
    assert_eq!(*start_date, today() + Duration::days(2));
    assert_eq!(world.provider("VN002").beds_free, 39);
    assert_eq!(world.request().status, RequestStatus::Placed);
    // The same acceptance again: nothing more; another offer: refused.
    assert!(world.then(&accept(2), at()).is_empty());
    assert_eq!(world.when(&accept(1), at()).expect_err("x").kind(), RefusalKind::Precondition);
    assert_eq!(world.when(&accept(9), at()).expect_err("x").kind(), RefusalKind::NotFound);
}

#[test]
fn a_provider_that_lost_its_bed_cannot_be_accepted() {
    let mut world = World::market();
    world.then(&offer(1, "VN001", 90_000), at());
    world.then(
        &BrokerageCommand::UpdateVacancies {
            ods: ods("VN001"),
            beds_free: 0,
            hours_free: 0,
            rates: None,
            by: home("VN001"),
        },
        at(),
    );
    let refused = world.when(&accept(1), at()).expect_err("no bed");
    assert!(matches!(refused, BrokerageError::NotEligible { why: "has no bed free", .. }), "{refused}");
}

#[test]
fn a_placement_handed_back_reopens_the_request_for_a_new_round() {
    let mut world = World::market();
    world.then(&offer(1, "VN001", 90_000), at());
    world.then(&accept(1), at());
    let hand_back = BrokerageCommand::HandBackPlacement {
        request_id: request_id(),
        reason: note("Cannot meet nursing needs"),
        by: home("VN001"),
    };
    assert_eq!(world.owners(&hand_back), [Owner::Organisation(ods("VN001"))]);
    let by_another = BrokerageCommand::HandBackPlacement {
        request_id: request_id(),
        reason: note("x"),
        by: home("VN002"),
    };
    assert_eq!(world.when(&by_another, at()).expect_err("x").kind(), RefusalKind::Forbidden);
    let later = at() + Duration::hours(2);
    let events = world.then(&hand_back, later);
    assert!(matches!(
        &events[..],
        [
            BrokerageEvent::PlacementHandedBack { .. },
            BrokerageEvent::CapacityReleased { beds: 1, .. },
            BrokerageEvent::CareRequestReposted { round: 2, .. },
        ]
    ));
    let r = world.request();
    assert_eq!(
        (r.status, r.round, r.window_closes_at),
        (RequestStatus::Open, 2, later + Duration::hours(24))
    );
    assert_eq!(world.provider("VN001").beds_free, 30);
    // It may offer again in the new round, and so may the other.
    world.then(&offer(3, "VN002", 99_000), later);
    assert!(world.when(&hand_back, later).is_err(), "nothing left to hand back");
}

#[test]
fn withdrawn_requests_decline_their_offers_and_may_be_posted_again() {
    let mut world = World::market();
    world.then(&offer(1, "VN001", 90_000), at());
    let withdraw = BrokerageCommand::WithdrawCareRequest {
        request_id: request_id(),
        reason: note("Family reconsidering"),
        by: broker(),
    };
    let events = world.then(&withdraw, at());
    assert!(matches!(
        &events[..],
        [
            BrokerageEvent::CareRequestWithdrawn { .. },
            BrokerageEvent::OfferDeclined { reason: DeclineReason::RequestWithdrawn, .. }
        ]
    ));
    assert!(world.then(&withdraw, at()).is_empty());
    assert!(matches!(
        world.when(&offer(2, "VN002", 1), at()),
        Err(BrokerageError::RequestIs { status: "WITHDRAWN", .. })
    ));
    let terms = Terms { start_by: today() + Duration::days(5), weekly_budget: Pence(100_000) };
    let repost = BrokerageCommand::RepostCareRequest {
        request_id: request_id(),
        terms: Some(terms),
        window_hours: 12,
        by: broker(),
    };
    let events = world.then(&repost, at() + Duration::hours(1));
    assert!(matches!(&events[..], [BrokerageEvent::CareRequestReposted { round: 2, .. }]));
    assert_eq!(world.request().terms, terms);
    // While open, it cannot be re-posted; it can be cancelled, and then nothing else.
    assert!(world.when(&repost, at()).is_err());
    let cancel = BrokerageCommand::CancelCareRequest {
        request_id: request_id(),
        reason: note("Went home"),
        by: broker(),
    };
    assert!(matches!(&world.then(&cancel, at())[..], [BrokerageEvent::CareRequestCancelled { .. }]));
    assert!(world.then(&cancel, at()).is_empty());
    assert!(world.when(&withdraw, at()).is_err());
}

#[test]
fn cancelling_a_placement_gives_the_bed_back() {
    let mut world = World::market();
    world.then(&offer(1, "VN001", 90_000), at());
    world.then(&accept(1), at());
    assert_eq!(world.provider("VN001").beds_free, 29);
    let cancel =
        BrokerageCommand::CancelCareRequest { request_id: request_id(), reason: note("Died"), by: broker() };
    let events = world.then(&cancel, at());
    assert!(matches!(
        &events[..],
        [BrokerageEvent::CapacityReleased { .. }, BrokerageEvent::CareRequestCancelled { .. }]
    ));
    assert_eq!(world.provider("VN001").beds_free, 30);
}

#[test]
fn home_care_takes_hours_not_beds() {
    let mut world = World::given(assessment("LA001", true));
    world.then(
        &BrokerageCommand::RegisterProvider {
            ods: ods("VN020"),
            profile: profile("Homecare", &[CareType::HomeCare, CareType::Reablement], 0, 30),
            cqc: good(),
            by: home("VN020"),
        },
        at(),
    );
    world.then(&post(Need::HomeCare { hours_per_week: 21 }), at());
    world.then(&offer(1, "VN020", 50_000), at());
    let events = world.then(&accept(1), at());
    assert!(matches!(events.last(), Some(BrokerageEvent::CapacityCommitted { beds: 0, hours: 21, .. })));
    assert_eq!(world.provider("VN020").hours_free, 9);
}

#[test]
fn a_ranking_rule_is_its_councils() {
    let mut world = World::default();
    let rule = RankingRule::new(50, 30, 10, 10).expect("rule");
    let set =
        BrokerageCommand::SetRankingRule { organisation: ods("LA001"), rule, by: party("c.la", "LA001") };
    assert_eq!(world.owners(&set), [Owner::Organisation(ods("LA001"))]);
    assert!(matches!(&world.then(&set, at())[..], [BrokerageEvent::RankingRuleSet { .. }]));
    assert!(world.then(&set, at()).is_empty());
}

#[test]
fn every_event_round_trips_through_json() {
    let mut world = World::market();
    let mut events = world.then(&offer(1, "VN001", 90_000), at());
    events.extend(world.then(&accept(1), at()));
    for event in events {
        let stored = BrokerageStreamEvent::Brokerage(event);
        let json = serde_json::to_value(&stored).expect("json");
        let back: BrokerageStreamEvent = serde_json::from_value(json).expect("back");
        assert_eq!(back, stored);
    }
    // An assessment event is read as one.
    let a = assessment("LA001", true).remove(1);
    let back: BrokerageStreamEvent =
        serde_json::from_value(serde_json::to_value(&a).expect("json")).expect("back");
    assert!(matches!(back, BrokerageStreamEvent::Assessment(_)));
}
