//! Given/when/then scenarios for every patients command, legal and illegal.

use chrono::{DateTime, NaiveDate, TimeZone, Utc};

use super::*;

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).single().expect("valid")
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("date")
}

fn nhs() -> NhsNumber {
    (0..).find_map(|k| NhsNumber::from_first_nine(999_200_000 + k)).expect("a valid test number")
}

fn demographics() -> Demographics {
    Demographics {
        name: PatientName::parse("Mavis", "Orpwood").expect("name"),
        date_of_birth: Some(date(1941, 3, 9)),
        gender: Gender::Female,
        postcode: Some(Postcode::parse("LS6 2QB").expect("postcode")),
        gp_practice: Some(OdsCode::parse("B86001").expect("ods")),
    }
}

fn registered() -> Vec<PatientEvent> {
    vec![PatientEvent::PatientRegistered { nhs_number: nhs(), demographics: demographics(), at: at() }]
}

fn given(history: impl IntoIterator<Item = PatientEvent>) -> PatientState {
    let mut state = PatientState::default();
    history.into_iter().for_each(|e| state.evolve(&e));
    state
}

fn when(history: Vec<PatientEvent>, command: PatientCommand) -> Result<Vec<PatientEvent>, PatientError> {
    decide(&given(history), &command, at())
}

#[test]
fn a_patient_is_registered_once() {
    let register = || PatientCommand::Register { nhs_number: nhs(), demographics: demographics() };
    assert_eq!(when(vec![], register()), Ok(registered()));
    assert_eq!(when(registered(), register()), Err(PatientError::AlreadyRegistered { nhs_number: nhs() }));
    let unborn = Demographics { date_of_birth: Some(date(2026, 11, 3)), ..demographics() };
    assert!(matches!(
        when(vec![], PatientCommand::Register { nhs_number: nhs(), demographics: unborn }),
        Err(PatientError::InTheFuture { field: "date_of_birth", .. })
    ));
}

#[test]
fn an_update_records_only_what_changes_and_nothing_when_nothing_does() {
    let moved = Postcode::parse("LS7 3JB").expect("postcode");
    let change = DemographicsChange {
        postcode: Some(moved.clone()),
        gender: Some(Gender::Female), // as before: not recorded
        ..DemographicsChange::default()
    };
    let update = |change| PatientCommand::UpdateDemographics { nhs_number: nhs(), change };
    let events = when(registered(), update(change.clone())).expect("updated");
    let expected = DemographicsChange { postcode: Some(moved.clone()), ..DemographicsChange::default() };
    assert_eq!(
        events,
        [PatientEvent::PatientDemographicsUpdated { nhs_number: nhs(), change: expected, at: at() }]
    );
    let mut history = registered();
    history.extend(events);
    assert_eq!(given(history.clone()).demographics.map(|d| d.postcode), Some(Some(moved)));
    assert_eq!(when(history, update(change)), Ok(vec![]), "the same change again is nothing to do");
    assert_eq!(
        when(vec![], update(DemographicsChange::default())),
        Err(PatientError::NotRegistered { nhs_number: nhs() })
    );
}

#[test]
fn dissent_is_recorded_and_withdrawn_once_each() {
    let dissent = PatientCommand::RecordSharingDissent { nhs_number: nhs(), note: None };
    let withdraw = PatientCommand::WithdrawSharingDissent { nhs_number: nhs() };
    assert_eq!(when(registered(), withdraw.clone()), Ok(vec![]), "no dissent to withdraw");
    let recorded = when(registered(), dissent.clone()).expect("recorded");
    assert_eq!(recorded, [PatientEvent::SharingDissentRecorded { nhs_number: nhs(), note: None, at: at() }]);
    let mut history = registered();
    history.extend(recorded);
    assert!(given(history.clone()).dissent);
    assert_eq!(when(history.clone(), dissent.clone()), Ok(vec![]), "already recorded");
    let withdrawn = when(history.clone(), withdraw).expect("withdrawn");
    history.extend(withdrawn);
    assert!(!given(history).dissent);
    assert_eq!(when(vec![], dissent), Err(PatientError::NotRegistered { nhs_number: nhs() }));
}

#[test]
fn death_is_recorded_once_and_not_before_birth_or_in_the_future() {
    let died = |d| PatientCommand::RecordDeath { nhs_number: nhs(), date_of_death: d };
    let events = when(registered(), died(date(2026, 10, 30))).expect("recorded");
    let mut history = registered();
    history.extend(events);
    assert_eq!(given(history.clone()).date_of_death, Some(date(2026, 10, 30)));
    assert_eq!(when(history.clone(), died(date(2026, 10, 30))), Ok(vec![]), "the same date again");
    assert_eq!(
        when(history, died(date(2026, 10, 31))),
        Err(PatientError::DeathAlreadyRecorded { nhs_number: nhs(), recorded: date(2026, 10, 30) })
    );
    assert_eq!(
        when(registered(), died(date(1940, 1, 1))),
        Err(PatientError::DeathBeforeBirth { date_of_death: date(1940, 1, 1) })
    );
    assert!(matches!(when(registered(), died(date(2027, 1, 1))), Err(PatientError::InTheFuture { .. })));
}

#[test]
fn refusals_name_the_nhs_number_and_never_the_demographics() {
    let refused =
        when(registered(), PatientCommand::Register { nhs_number: nhs(), demographics: demographics() });
    let message = refused.expect_err("refused").to_string();
    assert!(message.contains(&nhs().to_string()) && !message.contains("Orpwood") && !message.contains("LS6"));
}

#[test]
fn events_round_trip_through_json_with_their_type_name() {
    let mut all = registered();
    all.push(PatientEvent::PatientDemographicsUpdated {
        nhs_number: nhs(),
        change: DemographicsChange {
            gp_practice: Some(OdsCode::parse("B86002").expect("ods")),
            ..Default::default()
        },
        at: at(),
    });
    all.push(PatientEvent::SharingDissentRecorded {
        nhs_number: nhs(),
        note: Some(Note::parse("by phone").expect("note")),
        at: at(),
    });
    all.push(PatientEvent::PatientDied { nhs_number: nhs(), date_of_death: date(2026, 11, 1), at: at() });
    for event in all {
        let json = serde_json::to_value(&event).expect("serialize");
        assert_eq!(json["type"], event.event_type());
        assert_eq!(serde_json::from_value::<PatientEvent>(json).expect("deserialize"), event);
    }
}
