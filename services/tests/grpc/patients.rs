//! `careflow.patients.v1` and `careflow.flags.v1` over gRPC: registration, refusals that name
//! the field or the patient, roles, flags with their source, and an admission that registers.

use careflow_domain::flags::{FlagEvent, FlagSource};
use careflow_domain::patients::PatientEvent;
use careflow_proto::flags::v1 as fpb;
use careflow_proto::flags::v1::flag_service_client::FlagServiceClient;
use careflow_proto::patients::v1 as ppb;
use careflow_proto::patients::v1::patient_service_client::PatientServiceClient;

use super::*;

fn register(command_id: &str, nhs: &str) -> ppb::RegisterPatientRequest {
    ppb::RegisterPatientRequest {
        command_id: command_id.into(),
        nhs_number: nhs.into(),
        given_name: "Winifred".into(),
        family_name: "Oddsworth".into(),
        date_of_birth: "1937-04-21".into(),
        gender: ppb::Gender::Female as i32,
        postcode: "ls6 2qb".into(),
        gp_practice: "B86001".into(),
    }
}

fn raise(nhs: &str, kind: fpb::FlagKind, score: u32) -> fpb::RaiseFlagRequest {
    fpb::RaiseFlagRequest {
        command_id: uuid(),
        nhs_number: nhs.into(),
        kind: kind as i32,
        frailty_score: score,
        severity: fpb::Severity::High as i32,
        reason: "Clinical Frailty Scale assessed on admission".into(),
        review_on: String::new(),
    }
}

async fn events(app: &TestServices, stream: &str) -> Vec<serde_json::Value> {
    let name = StreamName::new(stream).unwrap();
    read_full_stream(app.store.as_ref(), &name)
        .await
        .unwrap()
        .into_iter()
        .map(|e| serde_json::from_slice(&e.data).unwrap())
        .collect()
}

#[tokio::test]
async fn a_patient_is_registered_once_and_refusals_name_the_patient_not_their_details() {
    let app = TestServices::spawn().await;
    let mut patients = PatientServiceClient::new(app.channel.clone());
    let nhs = patient(1);
    let spaced = format!("{} {} {}", &nhs[..3], &nhs[3..6], &nhs[6..]);
    let answer =
        patients.register_patient(app.request(Role::WardClerk, register(&uuid(), &spaced))).await.unwrap();
    let ack = answer.into_inner().ack.unwrap();
    assert_eq!(ack.nhs_number, nhs, "the ack names the 10 digits");
    assert_eq!(ack.position, app.head());
    let stored = events(&app, &format!("patient-{nhs}")).await;
    let event: PatientEvent = serde_json::from_value(stored[0].clone()).unwrap();
    let PatientEvent::PatientRegistered { demographics, .. } = event else { panic!("{event:?}") };
    assert_eq!(demographics.postcode.unwrap().as_str(), "LS6 2QB", "normalised");

    let again =
        patients.register_patient(app.request(Role::WardClerk, register(&uuid(), &nhs))).await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    assert!(again.message().contains(&nhs), "{}", again.message());
    assert!(!again.message().contains("Oddsworth"), "no demographics in errors: {}", again.message());
}

#[tokio::test]
async fn bad_demographics_name_every_field_and_store_nothing() {
    let app = TestServices::spawn().await;
    let mut patients = PatientServiceClient::new(app.channel.clone());
    let head = app.head();
    let bad = ppb::RegisterPatientRequest {
        command_id: uuid(),
        nhs_number: "9990000010".into(),
        given_name: String::new(),
        family_name: "x".repeat(101),
        date_of_birth: "21/04/1937".into(),
        gender: 99,
        postcode: "NOT A POSTCODE".into(),
        gp_practice: "b86 001!".into(),
    };
    let status = patients.register_patient(app.request(Role::WardClerk, bad)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(
        violations(&status),
        ["nhs_number", "given_name", "family_name", "date_of_birth", "gender", "postcode", "gp_practice"]
    );
    let future =
        ppb::RegisterPatientRequest { date_of_birth: "2999-01-01".into(), ..register(&uuid(), &patient(2)) };
    let status = patients.register_patient(app.request(Role::WardClerk, future)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("date_of_birth"), "{}", status.message());
    let one_name = ppb::UpdatePatientDemographicsRequest {
        command_id: uuid(),
        nhs_number: patient(2),
        given_name: "Winnie".into(),
        ..Default::default()
    };
    let status =
        patients.update_patient_demographics(app.request(Role::WardClerk, one_name)).await.unwrap_err();
    assert_eq!(violations(&status), ["given_name"]);
    assert_eq!(app.head(), head, "nothing stored");
}

#[tokio::test]
async fn roles_that_may_not_change_records_or_flags_are_refused() {
    let app = TestServices::spawn().await;
    let mut patients = PatientServiceClient::new(app.channel.clone());
    let mut flags = FlagServiceClient::new(app.channel.clone());
    for role in [Role::Housekeeping, Role::CareProvider, Role::Analyst, Role::Commissioner] {
        let status =
            patients.register_patient(app.request(role, register(&uuid(), &patient(3)))).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{role}");
    }
    patients.register_patient(app.request(Role::WardClerk, register(&uuid(), &patient(3)))).await.unwrap();
    let status = flags
        .raise_flag(app.request(Role::WardClerk, raise(&patient(3), fpb::FlagKind::FallsRisk, 0)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn flags_carry_their_source_and_one_kind_is_active_once() {
    let app = TestServices::spawn().await;
    let mut patients = PatientServiceClient::new(app.channel.clone());
    let mut flags = FlagServiceClient::new(app.channel.clone());
    let nhs = patient(4);

    // Not registered yet.
    let status = flags
        .raise_flag(app.request(Role::WardNurse, raise(&nhs, fpb::FlagKind::Frailty, 7)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    patients.register_patient(app.request(Role::WardClerk, register(&uuid(), &nhs))).await.unwrap();

    // The frailty score goes with frailty only.
    let status = flags
        .raise_flag(app.request(Role::WardNurse, raise(&nhs, fpb::FlagKind::Frailty, 0)))
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["frailty_score"]);
    let status = flags
        .raise_flag(app.request(Role::WardNurse, raise(&nhs, fpb::FlagKind::FallsRisk, 6)))
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["frailty_score"]);
    let status = flags
        .raise_flag(app.request(Role::WardNurse, raise(&nhs, fpb::FlagKind::Frailty, 5)))
        .await
        .unwrap_err();
    assert_eq!(violations(&status), ["frailty_score"]);

    let raised = flags
        .raise_flag(app.request(Role::WardNurse, raise(&nhs, fpb::FlagKind::Frailty, 7)))
        .await
        .unwrap()
        .into_inner()
        .ack
        .unwrap();
    let stored: FlagEvent =
        serde_json::from_value(events(&app, &format!("flags-{nhs}")).await[0].clone()).unwrap();
    let FlagEvent::FlagRaised { flag_id, source, .. } = stored else { panic!("{stored:?}") };
    assert_eq!(flag_id.to_string(), raised.flag_id);
    assert_eq!(
        source,
        FlagSource::Person {
            user_id: "test.ward_nurse".into(),
            organisation: careflow_domain::OdsCode::parse("RXA").unwrap()
        }
    );

    let status = flags
        .raise_flag(app.request(Role::WardNurse, raise(&nhs, fpb::FlagKind::Frailty, 8)))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains(&raised.flag_id), "names the active flag: {}", status.message());

    let resolve = fpb::ResolveFlagRequest {
        command_id: uuid(),
        nhs_number: nhs.clone(),
        flag_id: raised.flag_id.clone(),
        reason: "Reassessed: CFS 4".into(),
    };
    flags.resolve_flag(app.request(Role::Therapist, resolve.clone())).await.unwrap();
    let status = flags
        .resolve_flag(app.request(Role::Therapist, fpb::ResolveFlagRequest { command_id: uuid(), ..resolve }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    // Resolved, so a new one may be raised.
    flags.raise_flag(app.request(Role::WardNurse, raise(&nhs, fpb::FlagKind::Frailty, 8))).await.unwrap();
}

#[tokio::test]
async fn an_admission_registers_an_unregistered_patient_atomically_and_a_death_stops_admissions() {
    let mut app = TestServices::spawn().await;
    app.configure(2).await;
    let mut patients = PatientServiceClient::new(app.channel.clone());
    let nhs = patient(5);
    let stay = app
        .client
        .admit_patient(app.request(Role::WardNurse, admit(&uuid(), bed(0), nhs.clone())))
        .await
        .unwrap();
    let position = stay.into_inner().ack.unwrap().position;
    let registered = events(&app, &format!("patient-{nhs}")).await;
    assert_eq!(registered.len(), 1);
    assert_eq!(registered[0]["type"], "PatientRegistered");
    assert_eq!(registered[0]["demographics"]["name"]["family"], "Kettleby");
    // In the same append as the admission: one command's four events, ending at the ack.
    let read = |stream: String| {
        let store = app.store.clone();
        async move { read_full_stream(store.as_ref(), &StreamName::new(stream).unwrap()).await.unwrap() }
    };
    let registration = read(format!("patient-{nhs}")).await.remove(0);
    let opened = read(format!("inpatient-{nhs}")).await.remove(0);
    assert_eq!(registration.metadata.command_id, opened.metadata.command_id);
    assert!(registration.metadata.command_id.is_some());
    for event in [&registration, &opened] {
        assert!(
            (position - 3..=position).contains(&event.position),
            "{} at {}",
            event.event_type,
            event.position
        );
    }

    // The MPI now refuses to register them again, and can complete the record.
    let again =
        patients.register_patient(app.request(Role::WardClerk, register(&uuid(), &nhs))).await.unwrap_err();
    assert_eq!(again.code(), Code::AlreadyExists);
    let complete = ppb::UpdatePatientDemographicsRequest {
        command_id: uuid(),
        nhs_number: nhs.clone(),
        date_of_birth: "1944-02-02".into(),
        gender: ppb::Gender::Male as i32,
        ..Default::default()
    };
    patients.update_patient_demographics(app.request(Role::WardClerk, complete)).await.unwrap();

    let other = patient(6);
    patients.register_patient(app.request(Role::WardClerk, register(&uuid(), &other))).await.unwrap();
    let death = ppb::RecordDeathRequest {
        command_id: uuid(),
        nhs_number: other.clone(),
        date_of_death: "2026-11-20".into(),
    };
    patients.record_death(app.request(Role::WardNurse, death)).await.unwrap();
    let status = app
        .client
        .admit_patient(app.request(Role::WardNurse, admit(&uuid(), bed(1), other.clone())))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("died"), "{}", status.message());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn registrations_racing_for_one_patient_register_them_once() {
    let app = TestServices::spawn_on_sqlite().await;
    let nhs = patient(7);
    for round in 0..5 {
        let nhs = patient(100 + round);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let mut client = PatientServiceClient::new(app.channel.clone());
                let request = app.request(Role::WardClerk, register(&uuid(), &nhs));
                tokio::spawn(async move {
                    client.register_patient(request).await.map(|_| ()).map_err(|s| s.code())
                })
            })
            .collect();
        let mut codes = Vec::new();
        for task in tasks {
            codes.push(task.await.unwrap());
        }
        assert_eq!(codes.iter().filter(|c| c.is_ok()).count(), 1, "round {round}: {codes:?}");
        assert!(codes.iter().all(|c| c.is_ok() || *c == Err(Code::AlreadyExists)), "{codes:?}");
        assert_eq!(events(&app, &format!("patient-{nhs}")).await.len(), 1);
    }
    // An admission racing a registration: one registration in the stream, whoever wins.
    let mut app = app;
    app.configure(1).await;
    let mut patients = PatientServiceClient::new(app.channel.clone());
    let request = app.request(Role::WardClerk, register(&uuid(), &nhs));
    let admit = app.request(Role::WardNurse, admit(&uuid(), bed(0), nhs.clone()));
    let mut beds = app.client.clone();
    let (registered, admitted) = tokio::join!(patients.register_patient(request), beds.admit_patient(admit));
    assert!(admitted.is_ok(), "{admitted:?}");
    assert!(registered.is_ok() || registered.as_ref().unwrap_err().code() == Code::AlreadyExists);
    let stream = events(&app, &format!("patient-{nhs}")).await;
    assert_eq!(stream.len(), 1, "registered once: {stream:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn copies_of_one_raise_sent_at_once_raise_one_flag_and_all_get_its_id() {
    let app = TestServices::spawn_on_sqlite().await;
    let nhs = patient(8);
    let mut patients = PatientServiceClient::new(app.channel.clone());
    patients.register_patient(app.request(Role::WardClerk, register(&uuid(), &nhs))).await.unwrap();
    let once = raise(&nhs, fpb::FlagKind::EndOfLifeCarePlan, 0);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let mut client = FlagServiceClient::new(app.channel.clone());
            let request = app.request(Role::WardNurse, once.clone());
            tokio::spawn(async move { client.raise_flag(request).await.map(|r| r.into_inner().ack.unwrap()) })
        })
        .collect();
    let mut acks = Vec::new();
    for task in tasks {
        acks.push(task.await.unwrap().unwrap());
    }
    assert!(acks.windows(2).all(|w| w[0] == w[1]), "every copy gets the first's answer: {acks:?}");
    assert_eq!(events(&app, &format!("flags-{nhs}")).await.len(), 1, "one flag raised");
}
