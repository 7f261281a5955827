//! Given/when/then scenarios for every flags command, legal and illegal, and the SNOMED codes.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::OdsCode;
use crate::RuleId;
use crate::beds::PatientName;
use crate::decider::Refusal;
use crate::patients::{Demographics, Gender, Postcode};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).single().expect("valid")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn nhs() -> NhsNumber {
    (0..).find_map(|k| NhsNumber::from_first_nine(999_300_000 + k)).expect("a valid test number")
}

fn flag(n: u128) -> FlagId {
    FlagId(Uuid::from_u128(n))
}

fn note(text: &str) -> Note {
    Note::parse(text).expect("note")
}

fn nurse() -> FlagSource {
    FlagSource::Person { user_id: "nurse.okafor".into(), organisation: OdsCode::parse("RXA").expect("ods") }
}

fn registered() -> PatientState {
    let mut patient = PatientState::default();
    patient.evolve(&PatientEvent::PatientRegistered {
        nhs_number: nhs(),
        demographics: Demographics {
            name: PatientName::parse("Horace", "Gorringe").expect("name"),
            date_of_birth: Some(date(1938, 6, 1)),
            gender: Gender::Male,
            postcode: Some(Postcode::parse("BD7 1DP").expect("postcode")),
            gp_practice: Some(OdsCode::parse("B83001").expect("ods")),
        },
        at: at(),
    });
    patient
}

fn raise(id: u128, kind: FlagKind, score: Option<u8>) -> FlagCommand {
    FlagCommand::Raise {
        nhs_number: nhs(),
        flag_id: flag(id),
        kind,
        frailty_score: score.map(|s| FrailtyScore::new(s).expect("score")),
        severity: Severity::Medium,
        reason: note("seen on the ward round"),
        review_on: Some(date(2026, 12, 1)),
        source: nurse(),
    }
}

/// Decides `command` on `history` (flags events) for the registered patient.
fn when(history: &[FlagEvent], command: &FlagCommand) -> Result<Vec<FlagEvent>, FlagError> {
    let mut flags = PatientFlags::default();
    history.iter().for_each(|e| flags.evolve(e));
    flag_events(decide(&registered(), &flags, &FlagRuleState::default(), command, at()))
}

/// The patient's flag events of a decision.
fn flag_events(decided: Result<Vec<FlagStreamEvent>, FlagError>) -> Result<Vec<FlagEvent>, FlagError> {
    decided.map(|events| {
        events
            .into_iter()
            .filter_map(|e| match e {
                FlagStreamEvent::Flag(e) => Some(e),
                FlagStreamEvent::Patient(_) | FlagStreamEvent::Rule(_) => None,
            })
            .collect()
    })
}

fn raised(id: u128, kind: FlagKind, score: Option<u8>) -> Vec<FlagEvent> {
    when(&[], &raise(id, kind, score)).expect("raised")
}

#[test]
fn every_kind_can_be_raised_with_its_source() {
    for kind in FlagKind::ALL {
        let score = (kind == FlagKind::Frailty).then_some(7);
        let events = raised(1, kind, score);
        assert!(
            matches!(&events[..], [FlagEvent::FlagRaised { kind: k, source, .. }] if *k == kind && *source == nurse())
        );
    }
    let mut by_rule = raise(2, FlagKind::Frailty, Some(6));
    if let FlagCommand::Raise { source, .. } = &mut by_rule {
        *source = FlagSource::Rule { rule: "cfs-6-raises-frailty".into(), version: 1 };
    }
    assert!(when(&[], &by_rule).is_ok());
}

#[test]
fn one_active_flag_per_kind_and_again_once_resolved() {
    let first = raised(1, FlagKind::FallsRisk, None);
    assert_eq!(
        when(&first, &raise(2, FlagKind::FallsRisk, None)),
        Err(FlagError::AlreadyActive { nhs_number: nhs(), kind: FlagKind::FallsRisk, flag_id: flag(1) })
    );
    assert!(when(&first, &raise(2, FlagKind::Safeguarding, None)).is_ok(), "another kind is fine");
    let resolve =
        FlagCommand::Resolve { nhs_number: nhs(), flag_id: flag(1), reason: note("walking unaided") };
    let mut history = first;
    history.extend(when(&history, &resolve).expect("resolved"));
    assert!(
        when(&history, &raise(3, FlagKind::FallsRisk, None)).is_ok(),
        "a new flag once the old is resolved"
    );
    assert_eq!(when(&history, &resolve), Err(FlagError::Resolved { flag_id: flag(1), action: "resolve it" }));
    assert_eq!(
        when(&history, &raise(1, FlagKind::Safeguarding, None)),
        Err(FlagError::FlagExists { flag_id: flag(1) })
    );
}

#[test]
fn frailty_needs_a_score_of_six_to_nine_and_only_frailty_has_one() {
    assert!(FrailtyScore::new(5).is_err() && FrailtyScore::new(10).is_err() && FrailtyScore::new(0).is_err());
    assert!((6..=9).all(|s| FrailtyScore::new(s).is_ok()));
    assert!(matches!(when(&[], &raise(1, FlagKind::Frailty, None)), Err(FlagError::FrailtyScore(_))));
    assert!(matches!(
        when(&[], &raise(1, FlagKind::EndOfLifeCarePlan, Some(7))),
        Err(FlagError::FrailtyScore(_))
    ));
}

#[test]
fn reviews_move_the_review_date_of_an_active_flag_only() {
    let history = raised(1, FlagKind::EndOfLifeCarePlan, None);
    let review =
        |id, d| FlagCommand::Review { nhs_number: nhs(), flag_id: flag(id), review_on: d, note: None };
    let reviewed = when(&history, &review(1, date(2027, 1, 15))).expect("reviewed");
    let mut flags = PatientFlags::default();
    history.iter().chain(&reviewed).for_each(|e| flags.evolve(e));
    assert_eq!(flags.flags[&flag(1)].review_on, Some(date(2027, 1, 15)));
    assert_eq!(
        when(&history, &review(1, date(2026, 11, 1))),
        Err(FlagError::ReviewInThePast { date: date(2026, 11, 1) })
    );
    assert_eq!(
        when(&history, &review(9, date(2027, 1, 1))),
        Err(FlagError::FlagNotFound { nhs_number: nhs(), flag_id: flag(9) })
    );
}

#[test]
fn flags_are_raised_only_for_registered_living_patients() {
    let command = raise(1, FlagKind::LearningDisability, None);
    assert_eq!(
        flag_events(decide(
            &PatientState::default(),
            &PatientFlags::default(),
            &FlagRuleState::default(),
            &command,
            at()
        )),
        Err(FlagError::PatientNotRegistered { nhs_number: nhs() })
    );
    let mut died = registered();
    died.evolve(&PatientEvent::PatientDied { nhs_number: nhs(), date_of_death: date(2026, 11, 1), at: at() });
    assert_eq!(
        flag_events(decide(&died, &PatientFlags::default(), &FlagRuleState::default(), &command, at())),
        Err(FlagError::PatientDied { nhs_number: nhs() })
    );
}

#[test]
fn snomed_codes_follow_kind_and_frailty_score() {
    let code = |kind, score: Option<u8>| {
        snomed(kind, score.map(|s| FrailtyScore::new(s).expect("score"))).map(|s| s.code)
    };
    assert_eq!(code(FlagKind::EndOfLifeCarePlan, None), Some("713673000"));
    assert_eq!(code(FlagKind::Frailty, Some(6)), Some("925831000000107"));
    for severe in 7..=9 {
        assert_eq!(code(FlagKind::Frailty, Some(severe)), Some("925861000000102"));
    }
    assert_eq!(code(FlagKind::LearningDisability, None), Some("416075005"));
}

#[test]
fn stored_events_of_both_streams_decode_to_their_kind() {
    let flag_event = raised(1, FlagKind::Frailty, Some(8)).remove(0);
    let json = serde_json::to_string(&FlagStreamEvent::Flag(flag_event.clone())).expect("json");
    assert_eq!(serde_json::from_str::<FlagEvent>(&json).expect("as a flag event"), flag_event);
    assert_eq!(
        serde_json::from_str::<FlagStreamEvent>(&json).expect("decoded"),
        FlagStreamEvent::Flag(flag_event)
    );
    let patient_event = PatientEvent::SharingDissentWithdrawn { nhs_number: nhs(), at: at() };
    let json = serde_json::to_string(&patient_event).expect("json");
    assert_eq!(
        serde_json::from_str::<FlagStreamEvent>(&json).expect("decoded"),
        FlagStreamEvent::Patient(patient_event)
    );
}

/// The shipped frailty rule, set once (version 1), and a decision on it.
fn with_rule(history: &[FlagEvent], command: &FlagCommand) -> Result<Vec<FlagEvent>, FlagError> {
    let (rule_id, rule) = rules::frailty_rule().expect("the shipped rule");
    let mut state = FlagRuleState::default();
    state.evolve(&FlagRuleEvent::FlagRuleSet { rule_id, version: 1, rule, organisation: None, at: at() });
    let mut flags = PatientFlags::default();
    history.iter().for_each(|e| flags.evolve(e));
    flag_events(decide(&registered(), &flags, &state, command, at()))
}

fn apply(score: u8) -> FlagCommand {
    FlagCommand::ApplyRule {
        nhs_number: nhs(),
        rule_id: RuleId::parse("cfs-frailty").expect("id"),
        score,
        flag_id: flag(42),
        reason: note("Clinical Frailty Scale 7 in trusted assessment 6f1c"),
    }
}

#[test]
fn a_frailty_score_of_6_or_more_raises_the_flag_naming_the_rule_and_a_new_score_updates_it() {
    assert_eq!(with_rule(&[], &apply(5)), Ok(Vec::new()), "below the threshold");
    let raised = with_rule(&[], &apply(6)).expect("raised");
    let [FlagEvent::FlagRaised { kind, frailty_score, severity, source, review_on, .. }] = &raised[..] else {
        panic!("{raised:?}")
    };
    assert_eq!(
        (*kind, frailty_score.map(FrailtyScore::get), *severity),
        (FlagKind::Frailty, Some(6), Severity::Medium)
    );
    assert_eq!(source, &FlagSource::Rule { rule: "cfs-frailty".into(), version: 1 });
    assert_eq!(*review_on, Some(date(2026, 11, 2) + chrono::Days::new(90)), "90 days after {}", at());
    assert_eq!(snomed(FlagKind::Frailty, *frailty_score).map(|s| s.code), Some("925831000000107"));
    // The same score again: nothing. A higher one: the flag follows it, now severe.
    assert_eq!(with_rule(&raised, &apply(6)), Ok(Vec::new()));
    let rescored = with_rule(&raised, &apply(8)).expect("rescored");
    assert!(
        matches!(&rescored[..], [FlagEvent::FlagRescored { flag_id, frailty_score, severity: Severity::High, .. }]
            if *flag_id == flag(42) && frailty_score.get() == 8),
        "{rescored:?}"
    );
    // A flag a person raised is followed too.
    let by_nurse = when(&[], &raise(1, FlagKind::Frailty, Some(6))).expect("raised");
    let rescored = with_rule(&by_nurse, &apply(7)).expect("rescored");
    assert!(matches!(&rescored[..], [FlagEvent::FlagRescored { flag_id, .. }] if *flag_id == flag(1)));
}

#[test]
fn a_rule_must_exist_and_work_and_setting_it_again_is_no_new_version() {
    let missing = flag_events(decide(
        &registered(),
        &PatientFlags::default(),
        &FlagRuleState::default(),
        &apply(7),
        at(),
    ));
    assert_eq!(missing, Err(FlagError::RuleNotFound { rule_id: RuleId::parse("cfs-frailty").expect("id") }));
    let (rule_id, rule) = rules::frailty_rule().expect("rule");
    let set = FlagCommand::SetRule {
        rule_id: rule_id.clone(),
        rule: rule.clone(),
        organisation: crate::OdsCode::parse("RXA").expect("ods"),
    };
    let events =
        decide(&registered(), &PatientFlags::default(), &FlagRuleState::default(), &set, at()).expect("set");
    let [FlagStreamEvent::Rule(event @ FlagRuleEvent::FlagRuleSet { version: 1, .. })] = &events[..] else {
        panic!("{events:?}")
    };
    let mut state = FlagRuleState::default();
    state.evolve(event);
    assert_eq!(decide(&registered(), &PatientFlags::default(), &state, &set, at()), Ok(Vec::new()));
    let broken = FlagCommand::SetRule {
        rule_id,
        rule: FlagRule { at_least: 3, ..rule },
        organisation: crate::OdsCode::parse("RXA").expect("ods"),
    };
    let error = decide(&registered(), &PatientFlags::default(), &state, &broken, at()).unwrap_err();
    assert_eq!(error.violations()[0].0, "rule");
}
