//! Given/when/then scenarios for the virtual wards context: configuring a ward, admitting
//! (its beds, step-up and step-down), the plan, readings scored and recorded once, missed
//! readings by the plan, and discharge.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use uuid::Uuid;

use super::*;
use crate::beds::{BedEvent, PatientName};
use crate::decider::{Decider, Loaded, Owner, Refusal, RefusalKind};
use crate::patients::{Demographics, Gender, PatientEvent};
use crate::{BedId, NhsNumber, OdsCode, SiteId, StayId, WardId};

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 2, 9, 0, 0).single().expect("valid")
}

fn nhs(k: u32) -> NhsNumber {
    (0..).find_map(|j| NhsNumber::from_first_nine(999_410_000 + k * 100 + j)).expect("a valid test number")
}

fn ward_id() -> WardId {
    WardId::parse("RXA-VW-RESP").expect("id")
}

fn site_id() -> SiteId {
    SiteId::parse("RXA01").expect("id")
}

fn admission_id(k: u128) -> AdmissionId {
    AdmissionId(Uuid::from_u128(k))
}

fn reading_id(k: u128) -> ReadingId {
    ReadingId(Uuid::from_u128(1000 + k))
}

fn clinician() -> UserId {
    UserId::parse("vw.clinician").expect("user")
}

fn plan(every_minutes: u32) -> MonitoringPlan {
    MonitoringPlan::new(Parameter::ALL.into_iter().collect(), every_minutes, Spo2Scale::Scale1, Vec::new())
        .expect("a plan")
}

fn site() -> VirtualWardStreamEvent {
    VirtualWardStreamEvent::Beds(BedEvent::SiteRegistered {
        site_id: site_id(),
        name: Label::parse("Airedale General").expect("label"),
        organisation: Some(OdsCode::parse("RXA").expect("ods")),
        at: at(),
    })
}

fn registered(k: u32) -> VirtualWardStreamEvent {
    VirtualWardStreamEvent::Patient(PatientEvent::PatientRegistered {
        nhs_number: nhs(k),
        demographics: Demographics {
            name: PatientName::parse("Ada", "Testperson").expect("name"),
            date_of_birth: NaiveDate::from_ymd_opt(1940, 3, 1),
            gender: Gender::Female,
            postcode: None,
            gp_practice: None,
        },
        at: at(),
    })
}

fn configure(beds: u16) -> VirtualWardCommand {
    VirtualWardCommand::Configure {
        ward_id: ward_id(),
        site_id: site_id(),
        name: Label::parse("Respiratory virtual ward").expect("label"),
        pathway: CarePathway::Respiratory,
        beds,
    }
}

fn admit(k: u32) -> VirtualWardCommand {
    VirtualWardCommand::Admit {
        admission_id: admission_id(u128::from(k)),
        ward_id: ward_id(),
        nhs_number: nhs(k),
        route: AdmissionRoute::StepUp,
        plan: plan(8 * 60),
        by: clinician(),
    }
}

fn reading(k: u128, taken_at: DateTime<Utc>, observations: Observations) -> Reading {
    Reading { reading_id: reading_id(k), taken_at, source: ReadingSource::Device, observations }
}

fn poorly() -> Observations {
    Observations {
        respiration_rate: Some(23),
        spo2: Some(93),
        on_oxygen: Some(false),
        systolic_bp: Some(108),
        pulse: Some(104),
        consciousness: Some(Acvpu::Alert),
        temperature: Some(Temperature::celsius(38.3).expect("possible")),
    }
}

/// The streams of one scenario, folded from what happened.
#[derive(Default)]
struct World {
    loaded: Loaded<VirtualWards>,
}

impl World {
    fn given(events: impl IntoIterator<Item = VirtualWardStreamEvent>) -> Self {
        let mut world = Self::default();
        for event in events {
            world.loaded.apply(&event);
        }
        world
    }

    /// A site, a ward of `beds` and patients 1..=`patients` registered.
    fn ward(beds: u16, patients: u32) -> Self {
        let mut world = Self::given([site()].into_iter().chain((1..=patients).map(registered)));
        world.then(&configure(beds), at());
        world
    }

    fn load_all(&mut self, command: &VirtualWardCommand) {
        for _ in 0..4 {
            for stream in self.loaded.missing(command) {
                self.loaded.load(&stream, []);
            }
        }
    }

    /// Decides `command` at `now`; folds and returns the events.
    fn when(
        &mut self,
        command: &VirtualWardCommand,
        now: DateTime<Utc>,
    ) -> Result<Vec<VirtualWardEvent>, VirtualWardError> {
        self.load_all(command);
        let events = VirtualWards::decide(&self.loaded, command, now)?;
        for event in &events {
            self.loaded.apply(event);
        }
        Ok(events
            .into_iter()
            .filter_map(|e| match e {
                VirtualWardStreamEvent::VirtualWard(e) => Some(e),
                _ => None,
            })
            .collect())
    }

    fn then(&mut self, command: &VirtualWardCommand, now: DateTime<Utc>) -> Vec<VirtualWardEvent> {
        self.when(command, now).expect("the command is carried out")
    }

    fn admission(&self, k: u128) -> &OpenAdmission {
        match self.loaded.get(&VirtualWardStream::Admission(admission_id(k))) {
            Some(VirtualWardStreamState::Admission(a)) => a.admission.as_ref().expect("admitted"),
            _ => panic!("no admission {k}"),
        }
    }
}

#[test]
fn a_virtual_ward_is_its_sites_organisations_and_changes_in_place() {
    let mut world = World::given([site()]);
    let command = configure(20);
    world.load_all(&command);
    assert_eq!(
        VirtualWards::owners(&world.loaded, &command),
        [Owner::Organisation(OdsCode::parse("RXA").expect("ods"))]
    );
    let events = world.then(&command, at());
    assert!(matches!(&events[..], [VirtualWardEvent::VirtualWardConfigured { beds: 20, .. }]));
    // The same again: nothing to do; more beds: changed.
    assert!(world.then(&command, at()).is_empty());
    assert!(matches!(
        &world.then(&configure(25), at())[..],
        [VirtualWardEvent::VirtualWardChanged { beds: 25, .. }]
    ));
    // Another site: refused.
    let elsewhere = VirtualWardCommand::Configure {
        ward_id: ward_id(),
        site_id: SiteId::parse("RXA02").expect("id"),
        name: Label::parse("x").expect("label"),
        pathway: CarePathway::Frailty,
        beds: 2,
    };
    assert!(matches!(world.when(&elsewhere, at()), Err(VirtualWardError::WardOnAnotherSite { .. })));
}

#[test]
fn a_ward_needs_a_registered_site() {
    let mut world = World::default();
    let error = world.when(&configure(5), at()).unwrap_err();
    assert_eq!(error, VirtualWardError::SiteNotFound { site_id: site_id() });
    assert_eq!(error.kind(), RefusalKind::NotFound);
}

#[test]
fn admitting_takes_a_virtual_bed_and_never_more_than_there_are() {
    let mut world = World::ward(2, 3);
    let events = world.then(&admit(1), at());
    assert!(matches!(
        &events[..],
        [VirtualWardEvent::AdmittedToVirtualWard { next_due, .. }, VirtualWardEvent::VirtualBedTaken { .. }]
            if *next_due == at() + Duration::hours(8) + Duration::hours(1)
    ));
    assert_eq!(world.admission(1).patient.family, "Testperson");
    world.then(&admit(2), at());
    let full = world.when(&admit(3), at()).unwrap_err();
    assert_eq!(full, VirtualWardError::NoVirtualBedFree { ward_id: ward_id(), beds: 2 });
    // The same patient twice on one ward: refused, naming the admission.
    let mut again = admit(1);
    if let VirtualWardCommand::Admit { admission_id: id, .. } = &mut again {
        *id = admission_id(99);
    }
    let mut world = World::ward(5, 1);
    world.then(&admit(1), at());
    assert!(matches!(world.when(&again, at()), Err(VirtualWardError::AlreadyOnWard { .. })));
    // Fewer beds than patients: refused.
    assert!(matches!(world.when(&configure(0), at()), Err(VirtualWardError::FewerBedsThanPatients { .. })));
}

#[test]
fn a_patient_not_in_the_mpi_or_dead_is_not_admitted() {
    let mut world = World::ward(5, 0);
    assert_eq!(world.when(&admit(1), at()), Err(VirtualWardError::PatientNotFound));
    let mut world = World::ward(5, 1);
    world.loaded.apply(&VirtualWardStreamEvent::Patient(PatientEvent::PatientDied {
        nhs_number: nhs(1),
        date_of_death: NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"),
        at: at(),
    }));
    assert_eq!(world.when(&admit(1), at()), Err(VirtualWardError::PatientDied));
}

#[test]
fn a_step_down_names_a_stay_of_the_same_patient() {
    let stay_id = StayId(Uuid::from_u128(5));
    let stay = VirtualWardStreamEvent::Beds(BedEvent::PatientAdmitted {
        stay_id,
        nhs_number: nhs(1),
        patient: PatientName::parse("Ada", "Testperson").expect("name"),
        bed_id: BedId::parse("RXA01-AMU-B01").expect("id"),
        ward_id: WardId::parse("RXA01-AMU").expect("id"),
        site_id: site_id(),
        organisation: Some(OdsCode::parse("RXA").expect("ods")),
        at: at() - Duration::days(3),
    });
    let step_down = |k: u32, stay_id| match admit(k) {
        VirtualWardCommand::Admit { admission_id, ward_id, nhs_number, plan, by, .. } => {
            VirtualWardCommand::Admit {
                admission_id,
                ward_id,
                nhs_number,
                route: AdmissionRoute::StepDown { stay_id },
                plan,
                by,
            }
        }
        other => other,
    };
    let mut world = World::ward(5, 2);
    world.loaded.apply(&stay);
    assert_eq!(
        world.when(&step_down(2, stay_id), at()),
        Err(VirtualWardError::StayOfAnotherPatient { stay_id })
    );
    let unknown = StayId(Uuid::from_u128(6));
    assert_eq!(
        world.when(&step_down(1, unknown), at()),
        Err(VirtualWardError::StayNotFound { stay_id: unknown })
    );
    world.then(&step_down(1, stay_id), at());
    assert_eq!(world.admission(1).route, AdmissionRoute::StepDown { stay_id });
}

#[test]
fn every_reading_is_scored_and_recorded_once() {
    let mut world = World::ward(5, 1);
    world.then(&admit(1), at());
    let taken = at() + Duration::hours(2);
    let record = VirtualWardCommand::Record {
        admission_id: admission_id(1),
        readings: vec![reading(1, taken, poorly()), reading(1, taken, poorly())],
    };
    let events = world.then(&record, taken);
    let [VirtualWardEvent::ObservationsRecorded { news2, latest, next_due, .. }] = &events[..] else {
        panic!("one reading recorded: {events:?}")
    };
    // RR 23 (2) + SpO2 93 (2) + air (0) + BP 108 (1) + pulse 104 (1) + alert + 38.3 (1) = 7.
    assert_eq!((news2.total, news2.risk, news2.complete, *latest), (7, Risk::High, true, true));
    assert_eq!(*next_due, taken + Duration::hours(9));
    // Sent again (a device reconnecting): nothing recorded.
    assert!(world.then(&record, taken).is_empty());
    // An earlier reading arriving late is recorded but is not the latest.
    let late = VirtualWardCommand::Record {
        admission_id: admission_id(1),
        readings: vec![reading(
            2,
            taken - Duration::hours(1),
            Observations { pulse: Some(80), ..Default::default() },
        )],
    };
    let events = world.then(&late, taken);
    assert!(
        matches!(&events[..], [VirtualWardEvent::ObservationsRecorded { latest: false, next_due, .. }] if *next_due == taken + Duration::hours(9))
    );
}

#[test]
fn a_reading_from_the_future_or_long_before_the_admission_is_refused_naming_it() {
    let mut world = World::ward(5, 1);
    world.then(&admit(1), at());
    let record = |taken| VirtualWardCommand::Record {
        admission_id: admission_id(1),
        readings: vec![reading(1, at(), poorly()), reading(2, taken, poorly())],
    };
    let error = world.when(&record(at() + Duration::minutes(10)), at()).unwrap_err();
    assert_eq!(error.violations(), [("readings[1].taken_at".to_owned(), "is in the future".to_owned())]);
    let error = world.when(&record(at() - Duration::hours(25)), at()).unwrap_err();
    assert!(matches!(error, VirtualWardError::ReadingBeforeAdmission { index: 1, .. }));
    // Within the clock skew, and a baseline taken the evening before: recorded.
    assert_eq!(world.then(&record(at() + Duration::minutes(4)), at()).len(), 2);
    // A baseline alone is the latest reading, but readings are due from the admission.
    let mut world = World::ward(5, 1);
    world.then(&admit(1), at());
    let baseline = VirtualWardCommand::Record {
        admission_id: admission_id(1),
        readings: vec![reading(3, at() - Duration::hours(3), poorly())],
    };
    let events = world.then(&baseline, at());
    assert!(
        matches!(&events[..], [VirtualWardEvent::ObservationsRecorded { latest: true, next_due, .. }] if *next_due == at() + Duration::hours(9))
    );
}

#[test]
fn a_missed_reading_is_marked_by_the_plan_and_again_each_interval_until_one_arrives() {
    let mut world = World::ward(5, 1);
    world.then(&admit(1), at());
    let due = world.admission(1).next_due;
    let missed = VirtualWardCommand::MarkReadingMissed { admission_id: admission_id(1), due };
    // Early: not yet (the clock tries again).
    let early = world.when(&missed, due - Duration::seconds(1)).unwrap_err();
    assert!(early.to_string().contains("not due"));
    let events = world.then(&missed, due);
    assert!(
        matches!(&events[..], [VirtualWardEvent::ReadingMissed { missed: 1, next_due, .. }] if *next_due == due + Duration::hours(8))
    );
    // The same deadline again (a restart): nothing.
    assert!(world.then(&missed, due).is_empty());
    let second = world.admission(1).next_due;
    world.then(&VirtualWardCommand::MarkReadingMissed { admission_id: admission_id(1), due: second }, second);
    assert_eq!(world.admission(1).missed, 2);
    // A reading arrives: the count starts again and the next due time moves.
    let taken = second + Duration::minutes(5);
    world.then(
        &VirtualWardCommand::Record {
            admission_id: admission_id(1),
            readings: vec![reading(1, taken, poorly())],
        },
        taken,
    );
    assert_eq!(world.admission(1).missed, 0);
    assert_eq!(world.admission(1).next_due, taken + Duration::hours(9));
    // The old deadline finds nothing to do.
    assert!(
        world
            .then(
                &VirtualWardCommand::MarkReadingMissed {
                    admission_id: admission_id(1),
                    due: second + Duration::hours(8)
                },
                taken + Duration::days(1)
            )
            .is_empty()
    );
}

#[test]
fn a_plan_change_moves_the_due_time_and_a_same_plan_changes_nothing() {
    let mut world = World::ward(5, 1);
    world.then(&admit(1), at());
    let change = |every| VirtualWardCommand::ChangePlan {
        admission_id: admission_id(1),
        plan: plan(every),
        by: clinician(),
    };
    assert!(world.then(&change(8 * 60), at()).is_empty());
    let events = world.then(&change(60), at());
    assert!(
        matches!(&events[..], [VirtualWardEvent::MonitoringPlanChanged { next_due, .. }] if *next_due == at() + Duration::minutes(75))
    );
}

#[test]
fn discharge_frees_the_bed_and_ends_the_admission() {
    let mut world = World::ward(1, 2);
    world.then(&admit(1), at());
    let discharge = VirtualWardCommand::Discharge {
        admission_id: admission_id(1),
        outcome: VirtualWardOutcome::Completed,
        note: None,
        by: clinician(),
    };
    let events = world.then(&discharge, at());
    assert!(matches!(
        &events[..],
        [VirtualWardEvent::DischargedFromVirtualWard { .. }, VirtualWardEvent::VirtualBedFreed { .. }]
    ));
    assert_eq!(
        world.when(&discharge, at()),
        Err(VirtualWardError::Discharged { admission_id: admission_id(1) })
    );
    let record = VirtualWardCommand::Record {
        admission_id: admission_id(1),
        readings: vec![reading(1, at(), poorly())],
    };
    assert!(matches!(world.when(&record, at()), Err(VirtualWardError::Discharged { .. })));
    // The freed bed takes the next patient.
    world.then(&admit(2), at());
    // The clock finds nothing to do for a discharged patient.
    let due = world.admission(1).next_due;
    assert!(
        world
            .then(&VirtualWardCommand::MarkReadingMissed { admission_id: admission_id(1), due }, due)
            .is_empty()
    );
}

#[test]
fn a_plan_is_checked_naming_its_part() {
    let none = MonitoringPlan::new(BTreeSet::new(), 60, Spo2Scale::Scale1, Vec::new()).unwrap_err();
    assert_eq!(none.0, "observations");
    let fast = MonitoringPlan::new([Parameter::Pulse].into(), 5, Spo2Scale::Scale1, Vec::new()).unwrap_err();
    assert_eq!(fast.0, "every_minutes");
    let contact = EscalationContact {
        name: Label::parse("Jo Testperson").expect("label"),
        relationship: Label::parse("daughter").expect("label"),
        phone: Phone::parse("+44 113 496 0000").expect("phone"),
    };
    let many =
        MonitoringPlan::new([Parameter::Pulse].into(), 60, Spo2Scale::Scale1, vec![contact; 6]).unwrap_err();
    assert_eq!(many.0, "escalation_contacts");
    assert!(Phone::parse("call me").is_err());
    assert!(Phone::parse("12345").is_err());
    assert_eq!(plan(60).grace(), Duration::minutes(15));
    assert_eq!(plan(8 * 60).grace(), Duration::hours(1));
}

#[test]
fn events_read_back_as_written() {
    let mut world = World::ward(5, 1);
    let mut events = world.then(&admit(1), at());
    events.extend(world.then(
        &VirtualWardCommand::Record {
            admission_id: admission_id(1),
            readings: vec![reading(1, at(), poorly())],
        },
        at(),
    ));
    for event in events {
        let json = serde_json::to_string(&event).expect("serializes");
        let back: VirtualWardStreamEvent = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, VirtualWardStreamEvent::VirtualWard(event));
    }
}

#[test]
fn a_patients_registration_reads_as_the_mpis_whoever_wrote_it() {
    let VirtualWardStreamEvent::Patient(registered) = registered(1) else { unreachable!() };
    let json = serde_json::to_string(&registered).expect("serializes");
    let read: VirtualWardStreamEvent = serde_json::from_str(&json).expect("reads");
    assert!(matches!(read, VirtualWardStreamEvent::Patient(_)), "{read:?}");
    assert_eq!(VirtualWards::stream_of(&read), VirtualWardStream::Patient(nhs(1)));
    let json = serde_json::to_string(&site()).expect("serializes");
    let read: VirtualWardStreamEvent = serde_json::from_str(&json).expect("reads");
    assert_eq!(
        VirtualWards::stream_of(&read),
        VirtualWardStream::Beds(crate::beds::BedStream::Site(site_id()))
    );
}
