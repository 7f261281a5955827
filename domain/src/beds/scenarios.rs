//! Given/when/then scenarios for every beds command, legal and illegal.
//!
//! `given(history).when(command)` loads exactly the streams the command asks for (as the service
//! does, following a stay to its bed and patient), folding only that history, then decides.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::decider::{Decider, Owner};
use crate::patients::{Demographics, PatientEvent};
use crate::{BedId, NhsNumber, OdsCode, SiteId, StayId, WardId};

fn t(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 2, 8, 0, 0).single().expect("valid") + Duration::minutes(minutes)
}

fn nhs(n: u32) -> NhsNumber {
    (0..).find_map(|k| NhsNumber::from_first_nine(999_000_000 + n * 10 + k)).expect("a valid test number")
}

fn org() -> OdsCode {
    OdsCode::parse("RXA").expect("ODS code")
}
fn site() -> SiteId {
    SiteId::parse("RXA01").expect("id")
}
fn ward() -> WardId {
    WardId::parse("RXA01-AMU").expect("id")
}
fn bed(n: u32) -> BedId {
    BedId::parse(&format!("RXA01-AMU-B{n:02}")).expect("id")
}
fn stay(n: u128) -> StayId {
    StayId(Uuid::from_u128(n))
}
fn label(text: &str) -> Label {
    Label::parse(text).expect("label")
}
fn name() -> PatientName {
    PatientName::parse("Queenie", "Nettlefold").expect("name")
}

struct Given(Vec<BedEvent>);

fn given(history: impl IntoIterator<Item = Vec<BedEvent>>) -> Given {
    Given(history.into_iter().flatten().collect())
}

impl Given {
    fn when(&self, action: BedCommand) -> Result<Vec<BedEvent>, BedError> {
        let scope = self.scope(&action);
        decide(&scope, &Command { action, at: t(100) })
    }

    /// Loads exactly the streams `action` asks for, following a stay to its bed and patient.
    fn scope(&self, action: &BedCommand) -> Scope {
        let mut scope = Scope::new();
        loop {
            let missing: Vec<BedStream> =
                action.streams(&scope).into_iter().filter(|s| !scope.is_loaded(s)).collect();
            if missing.is_empty() {
                break;
            }
            for stream in missing {
                let history: Vec<&BedEvent> = self.0.iter().filter(|e| e.stream() == stream).collect();
                scope.load(&stream, history);
            }
        }
        scope
    }
}

// Histories.
fn configured() -> Vec<BedEvent> {
    vec![
        BedEvent::SiteRegistered {
            site_id: site(),
            name: label("Northgate General"),
            organisation: Some(org()),
            at: t(0),
        },
        BedEvent::WardConfigured {
            ward_id: ward(),
            site_id: site(),
            name: label("AMU"),
            specialty: None,
            organisation: Some(org()),
            at: t(0),
        },
        BedEvent::BedAdded {
            bed_id: bed(1),
            ward_id: ward(),
            site_id: site(),
            label: label("Bay 1 Bed 1"),
            organisation: Some(org()),
            at: t(0),
        },
        BedEvent::BedAdded {
            bed_id: bed(2),
            ward_id: ward(),
            site_id: site(),
            label: label("Bay 1 Bed 2"),
            organisation: Some(org()),
            at: t(0),
        },
    ]
}

fn admitted(stay_id: StayId, bed_id: BedId, patient: NhsNumber, at: DateTime<Utc>) -> Vec<BedEvent> {
    vec![
        BedEvent::PatientAdmitted {
            stay_id,
            nhs_number: patient,
            patient: name(),
            bed_id: bed_id.clone(),
            ward_id: ward(),
            site_id: site(),
            organisation: Some(org()),
            at,
        },
        BedEvent::BedOccupied { bed_id, stay_id, nhs_number: patient, patient: name(), at },
        BedEvent::InpatientStayOpened { nhs_number: patient, stay_id, at },
    ]
}

fn discharged(stay_id: StayId, bed_id: BedId, patient: NhsNumber) -> Vec<BedEvent> {
    vec![
        BedEvent::PatientDischarged {
            stay_id,
            nhs_number: patient,
            bed_id: bed_id.clone(),
            destination: DischargeDestination::UsualResidence,
            pathway: Pathway::Home,
            at: t(50),
        },
        BedEvent::BedVacated { bed_id, stay_id, because: VacatedBecause::Discharged, at: t(50) },
        BedEvent::InpatientStayClosed { nhs_number: patient, stay_id, at: t(50) },
    ]
}

fn in_state(bed_id: BedId, status: BedStatus) -> Vec<BedEvent> {
    match status {
        BedStatus::Available => vec![],
        BedStatus::Reserved => {
            vec![BedEvent::BedReserved { bed_id, for_nhs_number: None, note: None, at: t(10) }]
        }
        BedStatus::Occupied => admitted(stay(99), bed_id, nhs(99), t(10)),
        BedStatus::AwaitingCleaning => {
            let mut events = admitted(stay(99), bed_id.clone(), nhs(99), t(10));
            events.extend(discharged(stay(99), bed_id, nhs(99)));
            events
        }
        BedStatus::Blocked => {
            vec![BedEvent::BedBlocked { bed_id, reason: BlockReason::Maintenance, note: None, at: t(10) }]
        }
    }
}

const ALL_STATES: [BedStatus; 5] = [
    BedStatus::Available,
    BedStatus::Reserved,
    BedStatus::Occupied,
    BedStatus::AwaitingCleaning,
    BedStatus::Blocked,
];

fn admit(stay_id: StayId, bed_id: BedId, patient: NhsNumber) -> BedCommand {
    BedCommand::AdmitPatient(AdmitPatient { stay_id, bed_id, nhs_number: patient, patient: name() })
}

fn invalid_state(bed_id: BedId, state: BedStatus, action: &'static str) -> Result<Vec<BedEvent>, BedError> {
    Err(BedError::InvalidBedState { bed: bed_id, state, action })
}

// Configuration.

#[test]
fn sites_wards_and_beds_are_configured_once() {
    let register = || {
        BedCommand::RegisterSite(RegisterSite {
            site_id: site(),
            name: label("Northgate General"),
            organisation: org(),
        })
    };
    assert_eq!(
        given([]).when(register()),
        Ok(vec![BedEvent::SiteRegistered {
            site_id: site(),
            name: label("Northgate General"),
            organisation: Some(org()),
            at: t(100)
        }])
    );
    assert_eq!(given([configured()]).when(register()), Err(BedError::SiteAlreadyRegistered { site: site() }));

    let configure = |site_id| {
        BedCommand::ConfigureWard(ConfigureWard {
            ward_id: ward(),
            site_id,
            name: label("AMU"),
            specialty: None,
        })
    };
    let other = SiteId::parse("RXA09").expect("id");
    assert_eq!(given([]).when(configure(other.clone())), Err(BedError::SiteNotFound { site: other }));
    assert_eq!(
        given([configured()]).when(configure(site())),
        Err(BedError::WardAlreadyConfigured { ward: ward() })
    );

    let add = |bed_id| BedCommand::AddBed(AddBed { bed_id, ward_id: ward(), label: label("Side room") });
    assert_eq!(
        given([configured()]).when(add(bed(3))),
        Ok(vec![BedEvent::BedAdded {
            bed_id: bed(3),
            ward_id: ward(),
            site_id: site(),
            label: label("Side room"),
            organisation: Some(org()),
            at: t(100)
        }])
    );
    assert_eq!(given([configured()]).when(add(bed(1))), Err(BedError::BedAlreadyExists { bed: bed(1) }));
    assert_eq!(given([]).when(add(bed(3))), Err(BedError::WardNotFound { ward: ward() }));
}

// Admission.

fn registered(patient: NhsNumber) -> Vec<BedEvent> {
    vec![BedEvent::Patient(PatientEvent::PatientRegistered {
        nhs_number: patient,
        demographics: Demographics::from_admission(name()),
        at: t(1),
    })]
}

#[test]
fn admitting_a_registered_patient_opens_a_stay_on_three_streams() {
    let events =
        given([configured(), registered(nhs(1))]).when(admit(stay(1), bed(1), nhs(1))).expect("admitted");
    assert_eq!(events, admitted(stay(1), bed(1), nhs(1), t(100)));
    let streams: Vec<BedStream> = events.iter().map(BedEvent::stream).collect();
    assert_eq!(streams, [BedStream::Stay(stay(1)), BedStream::Bed(bed(1)), BedStream::Inpatient(nhs(1))]);
}

#[test]
fn admitting_an_unregistered_patient_registers_them_in_the_same_append() {
    let events = given([configured()]).when(admit(stay(1), bed(1), nhs(1))).expect("admitted");
    let registration = BedEvent::Patient(PatientEvent::PatientRegistered {
        nhs_number: nhs(1),
        demographics: Demographics::from_admission(name()),
        at: t(100),
    });
    let mut expected = vec![registration];
    expected.extend(admitted(stay(1), bed(1), nhs(1), t(100)));
    assert_eq!(events, expected);
    assert_eq!(events[0].stream(), BedStream::Patient(nhs(1)));
    // Stored as the patients context stores it, and read back as such.
    let json = serde_json::to_value(&events[0]).expect("json");
    assert_eq!(json["type"], "PatientRegistered");
    let back: PatientEvent = serde_json::from_value(json.clone()).expect("a patients event");
    assert_eq!(BedEvent::Patient(back), events[0]);
    assert_eq!(serde_json::from_value::<BedEvent>(json).expect("a beds event"), events[0]);
}

#[test]
fn a_patient_recorded_as_dead_is_not_admitted() {
    let died = vec![BedEvent::Patient(PatientEvent::PatientDied {
        nhs_number: nhs(1),
        date_of_death: NaiveDate::from_ymd_opt(2026, 11, 1).expect("date"),
        at: t(2),
    })];
    assert_eq!(
        given([configured(), registered(nhs(1)), died]).when(admit(stay(1), bed(1), nhs(1))),
        Err(BedError::PatientDied { nhs_number: nhs(1) })
    );
}

#[test]
fn a_reserved_bed_takes_anyone_or_only_the_patient_it_is_held_for() {
    assert!(
        given([configured(), in_state(bed(1), BedStatus::Reserved)])
            .when(admit(stay(1), bed(1), nhs(1)))
            .is_ok()
    );
    let held =
        vec![BedEvent::BedReserved { bed_id: bed(1), for_nhs_number: Some(nhs(1)), note: None, at: t(5) }];
    assert!(given([configured(), held.clone()]).when(admit(stay(1), bed(1), nhs(1))).is_ok());
    assert_eq!(
        given([configured(), held]).when(admit(stay(2), bed(1), nhs(2))),
        Err(BedError::ReservedForAnotherPatient { bed: bed(1) })
    );
}

#[test]
fn occupied_dirty_and_blocked_beds_cannot_take_a_patient() {
    for state in [BedStatus::Occupied, BedStatus::AwaitingCleaning, BedStatus::Blocked] {
        assert_eq!(
            given([configured(), in_state(bed(1), state)]).when(admit(stay(1), bed(1), nhs(1))),
            invalid_state(bed(1), state, "admit a patient"),
            "{state}"
        );
    }
}

#[test]
fn admission_needs_a_bed_a_new_stay_and_a_patient_without_an_open_stay() {
    assert_eq!(
        given([configured()]).when(admit(stay(1), bed(7), nhs(1))),
        Err(BedError::BedNotFound { bed: bed(7) })
    );
    let first = admitted(stay(1), bed(1), nhs(1), t(5));
    assert_eq!(
        given([configured(), first.clone()]).when(admit(stay(2), bed(2), nhs(1))),
        Err(BedError::PatientAlreadyAdmitted { nhs_number: nhs(1), stay: stay(1) })
    );
    assert_eq!(
        given([configured(), first.clone()]).when(admit(stay(1), bed(2), nhs(2))),
        Err(BedError::StayAlreadyExists { stay: stay(1) })
    );
    // After discharge the same patient can come back (a new stay).
    let history = [configured(), first, discharged(stay(1), bed(1), nhs(1))];
    assert!(given(history).when(admit(stay(2), bed(2), nhs(1))).is_ok());
}

// Transfer.

#[test]
fn a_transfer_vacates_the_old_bed_and_occupies_the_new_one() {
    let history = [configured(), admitted(stay(1), bed(1), nhs(1), t(5))];
    let transfer = |to| BedCommand::TransferPatient(TransferPatient { stay_id: stay(1), to_bed_id: to });
    assert_eq!(
        given(history.clone()).when(transfer(bed(2))),
        Ok(vec![
            BedEvent::PatientTransferred {
                stay_id: stay(1),
                from_bed_id: bed(1),
                to_bed_id: bed(2),
                to_ward_id: ward(),
                at: t(100)
            },
            BedEvent::BedVacated {
                bed_id: bed(1),
                stay_id: stay(1),
                because: VacatedBecause::Transferred,
                at: t(100)
            },
            BedEvent::BedOccupied {
                bed_id: bed(2),
                stay_id: stay(1),
                nhs_number: nhs(1),
                patient: name(),
                at: t(100)
            },
        ])
    );
    assert_eq!(given(history.clone()).when(transfer(bed(1))), Err(BedError::AlreadyInBed { bed: bed(1) }));
    let mut blocked = history.to_vec();
    blocked.push(in_state(bed(2), BedStatus::Blocked));
    assert_eq!(
        given(blocked).when(transfer(bed(2))),
        invalid_state(bed(2), BedStatus::Blocked, "transfer a patient in")
    );
    assert_eq!(given([configured()]).when(transfer(bed(2))), Err(BedError::StayNotFound { stay: stay(1) }));
    let mut ended = history.to_vec();
    ended.push(discharged(stay(1), bed(1), nhs(1)));
    assert_eq!(given(ended).when(transfer(bed(2))), Err(BedError::StayEnded { stay: stay(1) }));
}

// Expected discharge date and medically optimised.

#[test]
fn discharge_dates_cannot_precede_the_admission() {
    let history = [configured(), admitted(stay(1), bed(1), nhs(1), t(5))];
    let admitted_on = t(5).date_naive();
    let edd =
        |date| BedCommand::SetExpectedDischargeDate(SetExpectedDischargeDate { stay_id: stay(1), date });
    let later = admitted_on + Duration::days(3);
    assert_eq!(
        given(history.clone()).when(edd(later)),
        Ok(vec![BedEvent::ExpectedDischargeDateSet { stay_id: stay(1), date: later, at: t(100) }])
    );
    let before = admitted_on - Duration::days(1);
    assert_eq!(
        given(history.clone()).when(edd(before)),
        Err(BedError::DateBeforeAdmission {
            field: "expected_discharge_date",
            date: before,
            admitted: admitted_on
        })
    );

    let mo = |date| {
        BedCommand::MarkMedicallyOptimised(MarkMedicallyOptimised {
            stay_id: stay(1),
            discharge_ready_date: date,
            pathway: Pathway::ShortTermBed,
        })
    };
    assert_eq!(
        given(history.clone()).when(mo(admitted_on)),
        Ok(vec![BedEvent::PatientMedicallyOptimised {
            stay_id: stay(1),
            discharge_ready_date: admitted_on,
            pathway: Pathway::ShortTermBed,
            at: t(100)
        }])
    );
    assert_eq!(
        given(history.clone()).when(mo(before)),
        Err(BedError::DateBeforeAdmission {
            field: "discharge_ready_date",
            date: before,
            admitted: admitted_on
        })
    );
    assert_eq!(given([configured()]).when(mo(admitted_on)), Err(BedError::StayNotFound { stay: stay(1) }));
    let mut ended = history.to_vec();
    ended.push(discharged(stay(1), bed(1), nhs(1)));
    assert_eq!(given(ended).when(edd(later)), Err(BedError::StayEnded { stay: stay(1) }));
}

// Discharge.

#[test]
fn discharge_frees_the_current_bed_and_closes_the_patients_stay() {
    let discharge = || {
        BedCommand::DischargePatient(DischargePatient {
            stay_id: stay(1),
            destination: DischargeDestination::CareHome,
            pathway: Pathway::CareHome,
        })
    };
    let moved = vec![
        BedEvent::PatientTransferred {
            stay_id: stay(1),
            from_bed_id: bed(1),
            to_bed_id: bed(2),
            to_ward_id: ward(),
            at: t(20),
        },
        BedEvent::BedVacated {
            bed_id: bed(1),
            stay_id: stay(1),
            because: VacatedBecause::Transferred,
            at: t(20),
        },
        BedEvent::BedOccupied {
            bed_id: bed(2),
            stay_id: stay(1),
            nhs_number: nhs(1),
            patient: name(),
            at: t(20),
        },
    ];
    let history = [configured(), admitted(stay(1), bed(1), nhs(1), t(5)), moved];
    assert_eq!(
        given(history.clone()).when(discharge()),
        Ok(vec![
            BedEvent::PatientDischarged {
                stay_id: stay(1),
                nhs_number: nhs(1),
                bed_id: bed(2),
                destination: DischargeDestination::CareHome,
                pathway: Pathway::CareHome,
                at: t(100),
            },
            BedEvent::BedVacated {
                bed_id: bed(2),
                stay_id: stay(1),
                because: VacatedBecause::Discharged,
                at: t(100)
            },
            BedEvent::InpatientStayClosed { nhs_number: nhs(1), stay_id: stay(1), at: t(100) },
        ])
    );
    let mut twice = history.to_vec();
    twice.push(discharged(stay(1), bed(2), nhs(1)));
    assert_eq!(given(twice).when(discharge()), Err(BedError::StayEnded { stay: stay(1) }));
}

// Bed state machine: cleaned, block, unblock, reserve, release.

#[test]
fn every_bed_command_is_legal_in_exactly_its_states() {
    type Case = (fn(BedId) -> BedCommand, &'static [BedStatus], &'static str);
    let cases: [Case; 5] = [
        (
            |b| BedCommand::MarkBedCleaned(MarkBedCleaned { bed_id: b }),
            &[BedStatus::AwaitingCleaning],
            "mark it cleaned",
        ),
        (
            |b| BedCommand::BlockBed(BlockBed { bed_id: b, reason: BlockReason::Staffing, note: None }),
            &[BedStatus::Available, BedStatus::AwaitingCleaning],
            "block it",
        ),
        (|b| BedCommand::UnblockBed(UnblockBed { bed_id: b }), &[BedStatus::Blocked], "unblock it"),
        (
            |b| BedCommand::ReserveBed(ReserveBed { bed_id: b, for_nhs_number: None, note: None }),
            &[BedStatus::Available],
            "reserve it",
        ),
        (
            |b| BedCommand::ReleaseBedReservation(ReleaseBedReservation { bed_id: b }),
            &[BedStatus::Reserved],
            "release a reservation",
        ),
    ];
    for (command, legal, action) in cases {
        for state in ALL_STATES {
            let outcome = given([configured(), in_state(bed(1), state)]).when(command(bed(1)));
            if legal.contains(&state) {
                assert!(outcome.is_ok(), "{action} from {state}: {outcome:?}");
            } else {
                assert_eq!(outcome, invalid_state(bed(1), state, action), "{action} from {state}");
            }
        }
        assert_eq!(given([]).when(command(bed(1))), Err(BedError::BedNotFound { bed: bed(1) }), "{action}");
    }
}

#[test]
fn unblocking_after_infection_control_needs_a_clean_first() {
    let blocked = |reason| vec![BedEvent::BedBlocked { bed_id: bed(1), reason, note: None, at: t(10) }];
    let unblock = || BedCommand::UnblockBed(UnblockBed { bed_id: bed(1) });
    for (reason, to) in [
        (BlockReason::InfectionControl, BedStatus::AwaitingCleaning),
        (BlockReason::Maintenance, BedStatus::Available),
        (BlockReason::Staffing, BedStatus::Available),
    ] {
        assert_eq!(
            given([configured(), blocked(reason)]).when(unblock()),
            Ok(vec![BedEvent::BedUnblocked { bed_id: bed(1), to, at: t(100) }]),
            "{reason:?}"
        );
    }
}

// Evolve.

#[test]
fn folding_a_bed_life_cycle_tracks_state_since_and_who() {
    let steps: Vec<(BedEvent, BedStatus)> = vec![
        (configured()[2].clone(), BedStatus::Available),
        (
            BedEvent::BedReserved { bed_id: bed(1), for_nhs_number: Some(nhs(1)), note: None, at: t(1) },
            BedStatus::Reserved,
        ),
        (
            BedEvent::BedOccupied {
                bed_id: bed(1),
                stay_id: stay(1),
                nhs_number: nhs(1),
                patient: name(),
                at: t(2),
            },
            BedStatus::Occupied,
        ),
        (
            BedEvent::BedVacated {
                bed_id: bed(1),
                stay_id: stay(1),
                because: VacatedBecause::Discharged,
                at: t(3),
            },
            BedStatus::AwaitingCleaning,
        ),
        (BedEvent::BedCleaned { bed_id: bed(1), at: t(4) }, BedStatus::Available),
        (
            BedEvent::BedBlocked {
                bed_id: bed(1),
                reason: BlockReason::InfectionControl,
                note: None,
                at: t(5),
            },
            BedStatus::Blocked,
        ),
        (
            BedEvent::BedUnblocked { bed_id: bed(1), to: BedStatus::AwaitingCleaning, at: t(6) },
            BedStatus::AwaitingCleaning,
        ),
    ];
    let mut scope = Scope::new();
    for (i, (event, status)) in steps.iter().enumerate() {
        scope.apply(event);
        let state = scope.bed(&bed(1)).expect("loaded");
        assert_eq!(state.status, *status, "step {i}");
        assert_eq!(state.since, Some(t(i as i64)), "step {i}");
        assert_eq!(state.occupant.is_some(), *status == BedStatus::Occupied, "step {i}");
        assert_eq!(state.reserved_for, (*status == BedStatus::Reserved).then(|| nhs(1)), "step {i}");
        assert_eq!(state.blocked_for.is_some(), *status == BedStatus::Blocked, "step {i}");
    }
}

#[test]
fn events_round_trip_through_json_with_their_type_name() {
    let mut all = configured();
    all.extend(admitted(stay(1), bed(1), nhs(1), t(5)));
    all.extend(discharged(stay(1), bed(1), nhs(1)));
    all.push(BedEvent::ExpectedDischargeDateSet {
        stay_id: stay(1),
        date: NaiveDate::from_ymd_opt(2026, 11, 9).expect("date"),
        at: t(6),
    });
    all.push(BedEvent::BedUnblocked { bed_id: bed(1), to: BedStatus::Available, at: t(7) });
    for event in all {
        let json = serde_json::to_value(&event).expect("serialize");
        assert_eq!(json["type"], event.event_type());
        assert_eq!(serde_json::from_value::<BedEvent>(json).expect("deserialize"), event);
    }
}

#[test]
fn every_command_names_the_owner_of_what_it_touches() {
    let owners = |history: Vec<Vec<BedEvent>>, action: BedCommand| {
        let scope = given(history).scope(&action);
        <Beds as Decider>::owners(&scope, &action)
    };
    let rxa = Owner::Organisation(org());
    let register =
        BedCommand::RegisterSite(RegisterSite { site_id: site(), name: label("New"), organisation: org() });
    assert_eq!(owners(vec![], register), [Owner::New]);
    let configure = BedCommand::ConfigureWard(ConfigureWard {
        ward_id: ward(),
        site_id: site(),
        name: label("W"),
        specialty: None,
    });
    assert_eq!(owners(vec![configured()], configure.clone()), vec![rxa.clone()]);
    assert_eq!(owners(vec![], configure), [], "an unknown site has no owner: the decision says not found");
    let add = BedCommand::AddBed(AddBed { bed_id: bed(3), ward_id: ward(), label: label("B") });
    assert_eq!(owners(vec![configured()], add), vec![rxa.clone()]);
    assert_eq!(owners(vec![configured()], admit(stay(1), bed(1), nhs(1))), vec![rxa.clone()]);
    let admitted_once = vec![configured(), admitted(stay(1), bed(1), nhs(1), t(5))];
    let transfer = BedCommand::TransferPatient(TransferPatient { stay_id: stay(1), to_bed_id: bed(2) });
    assert_eq!(owners(admitted_once.clone(), transfer), [rxa.clone(), rxa.clone()]);
    let discharge = BedCommand::DischargePatient(DischargePatient {
        stay_id: stay(1),
        destination: DischargeDestination::UsualResidence,
        pathway: Pathway::Home,
    });
    assert_eq!(owners(admitted_once, discharge), [rxa]);

    // Recorded before owners were: unrecorded.
    let legacy: Vec<BedEvent> = configured()
        .into_iter()
        .map(|mut event| {
            if let BedEvent::BedAdded { organisation, .. } = &mut event {
                *organisation = None;
            }
            event
        })
        .collect();
    let clean = BedCommand::MarkBedCleaned(MarkBedCleaned { bed_id: bed(1) });
    assert_eq!(owners(vec![legacy], clean), [Owner::Unrecorded]);
}
