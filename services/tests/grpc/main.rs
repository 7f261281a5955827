//! `careflow.beds.v1.BedService` over a real gRPC connection on port 0, backed by the in-memory
//! event store: field violations, state errors, idempotent retries, auth, and the one-open-stay
//! rule under concurrent admissions.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::sync::Arc;

use careflow_auth::{Actor, Authenticator, JwtConfig, Role};
use careflow_domain::NhsNumber;
use careflow_eventstore::memory::MemoryStore;
use careflow_eventstore::{EventStore, StreamName, read_full_stream};
use careflow_proto::beds::v1 as pb;
use careflow_proto::beds::v1::bed_service_client::BedServiceClient;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tonic::transport::Channel;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request};
use tonic_types::StatusExt;

struct TestServices {
    client: BedServiceClient<Channel>,
    channel: Channel,
    store: Arc<dyn EventStore>,
    auth: Authenticator,
    _stop: oneshot::Sender<()>,
    _dir: Option<tempfile::TempDir>,
}

impl TestServices {
    async fn spawn() -> Self {
        Self::spawn_on(Arc::new(MemoryStore::new()), None).await
    }

    /// On a SQLite store in a temporary folder: appends then really wait for the writer thread,
    /// so concurrent requests interleave as they do in production.
    async fn spawn_on_sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = careflow_eventstore::sqlite::SqliteStore::open(dir.path().join("events.sqlite")).unwrap();
        Self::spawn_on(Arc::new(store), Some(dir)).await
    }

    async fn spawn_on(store: Arc<dyn EventStore>, dir: Option<tempfile::TempDir>) -> Self {
        let auth = Authenticator::new(JwtConfig {
            secret: "grpc-test".into(),
            issuer: "careflow".into(),
            audience: "careflow".into(),
        });
        let services = careflow_services::server::services(store.clone(), auth.clone(), &Default::default())
            .await
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(services.router.serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
            let _ = stopped.await;
        }));
        // The listener is bound, so connecting cannot race the server's start.
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();
        Self { client: BedServiceClient::new(channel.clone()), channel, store, auth, _stop: stop, _dir: dir }
    }

    fn token(&self, role: Role, organisation: &str) -> String {
        let actor =
            Actor { user_id: format!("test.{role}"), role, organisation: organisation.into(), teams: vec![] };
        self.auth.issue(&actor, chrono::Utc::now(), chrono::Duration::minutes(5)).unwrap()
    }

    /// A request from `role` at the test trust, RXA.
    fn request<T>(&self, role: Role, message: T) -> Request<T> {
        self.request_from(role, "RXA", message)
    }

    fn request_from<T>(&self, role: Role, organisation: &str, message: T) -> Request<T> {
        let mut request = Request::new(message);
        let bearer = format!("Bearer {}", self.token(role, organisation));
        request.metadata_mut().insert("authorization", bearer.parse().unwrap());
        request
    }

    fn head(&self) -> u64 {
        *self.store.head().borrow()
    }

    async fn configure(&mut self, beds: usize) {
        let admin = Role::Admin;
        let site = pb::RegisterSiteRequest {
            command_id: uuid(),
            site_id: "RXT01".into(),
            name: "Testbury General".into(),
        };
        self.client.register_site(self.request(admin, site)).await.unwrap();
        let ward = pb::ConfigureWardRequest {
            command_id: uuid(),
            ward_id: "RXT01-W1".into(),
            site_id: "RXT01".into(),
            name: "Larch Ward".into(),
            specialty: String::new(),
        };
        self.client.configure_ward(self.request(admin, ward)).await.unwrap();
        for n in 0..beds {
            let bed = pb::AddBedRequest {
                command_id: uuid(),
                bed_id: bed(n),
                ward_id: "RXT01-W1".into(),
                label: format!("Bed {n}"),
            };
            self.client.add_bed(self.request(admin, bed)).await.unwrap();
        }
    }
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn bed(n: usize) -> String {
    format!("RXT01-W1-B{n:02}")
}

fn patient(n: u32) -> String {
    (0..).find_map(|k| NhsNumber::from_first_nine(999_100_000 + n * 10 + k)).unwrap().to_string()
}

fn admit(command_id: &str, bed_id: String, nhs: String) -> pb::AdmitPatientRequest {
    pb::AdmitPatientRequest {
        command_id: command_id.into(),
        bed_id,
        nhs_number: nhs,
        given_name: "Percy".into(),
        family_name: "Kettleby".into(),
    }
}

#[tokio::test]
async fn bad_input_names_every_field_and_stores_nothing() {
    let mut app = TestServices::spawn().await;
    app.configure(1).await;
    let head = app.head();
    let bad = pb::AdmitPatientRequest {
        command_id: String::new(),
        bed_id: bed(0),
        nhs_number: "9990000019".into(),
        given_name: " ".into(),
        family_name: "Kettleby".into(),
    };
    let status = app.client.admit_patient(app.request(Role::WardNurse, bad)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    let fields: Vec<String> =
        status.get_details_bad_request().unwrap().field_violations.into_iter().map(|v| v.field).collect();
    assert_eq!(fields, ["command_id", "nhs_number", "given_name"]);
    assert_eq!(app.head(), head, "nothing stored");

    let discharge = pb::DischargePatientRequest {
        command_id: uuid(),
        stay_id: "not-a-uuid".into(),
        destination: 0,
        pathway: 7,
    };
    let status = app.client.discharge_patient(app.request(Role::WardNurse, discharge)).await.unwrap_err();
    let fields: Vec<String> =
        status.get_details_bad_request().unwrap().field_violations.into_iter().map(|v| v.field).collect();
    assert_eq!(fields, ["stay_id", "destination", "pathway"]);
}

#[tokio::test]
async fn illegal_transitions_name_the_state_and_unknown_things_are_not_found() {
    let mut app = TestServices::spawn().await;
    app.configure(1).await;
    let clean = pb::MarkBedCleanedRequest { command_id: uuid(), bed_id: bed(0) };
    let status = app.client.mark_bed_cleaned(app.request(Role::Housekeeping, clean)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("AVAILABLE"), "{}", status.message());

    let unknown = pb::MarkBedCleanedRequest { command_id: uuid(), bed_id: "RXT01-W1-B99".into() };
    let status = app.client.mark_bed_cleaned(app.request(Role::Housekeeping, unknown)).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);

    let again = pb::RegisterSiteRequest { command_id: uuid(), site_id: "RXT01".into(), name: "Again".into() };
    let status = app.client.register_site(app.request(Role::Admin, again)).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn a_retried_command_is_answered_from_the_store_and_writes_nothing() {
    let mut app = TestServices::spawn().await;
    app.configure(1).await;
    let command_id = uuid();
    let first = app
        .client
        .admit_patient(app.request(Role::WardNurse, admit(&command_id, bed(0), patient(1))))
        .await
        .unwrap();
    let head = app.head();
    let retry = app
        .client
        .admit_patient(app.request(Role::WardNurse, admit(&command_id, bed(0), patient(1))))
        .await
        .unwrap();
    assert_eq!(retry.get_ref(), first.get_ref());
    assert_eq!(app.head(), head);

    // The actor, command, correlation and causation ids are on every event written.
    let stay = StreamName::new(format!("stay-{}", first.get_ref().stay_id)).unwrap();
    let events = read_full_stream(app.store.as_ref(), &stay).await.unwrap();
    let metadata = &events[0].metadata;
    let actor = metadata.actor.as_ref().unwrap();
    assert_eq!(
        (actor.user_id.as_str(), actor.role.as_str(), actor.organisation.as_str()),
        ("test.ward_nurse", "ward_nurse", "RXA")
    );
    assert_eq!(metadata.command_id.map(|c| c.to_string()), Some(command_id.clone()));
    assert_eq!(metadata.causation_id, metadata.command_id);
    assert_eq!(Some(metadata.correlation_id), metadata.command_id);
}

#[tokio::test]
async fn tokens_and_roles_are_checked() {
    let mut app = TestServices::spawn().await;
    app.configure(1).await;
    let status =
        app.client.admit_patient(Request::new(admit(&uuid(), bed(0), patient(1)))).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);

    let mut forged = Request::new(admit(&uuid(), bed(0), patient(1)));
    forged.metadata_mut().insert("authorization", "Bearer abc.def.ghi".parse().unwrap());
    assert_eq!(app.client.admit_patient(forged).await.unwrap_err().code(), Code::Unauthenticated);

    let provider = app.request(Role::CareProvider, admit(&uuid(), bed(0), patient(1)));
    assert_eq!(app.client.admit_patient(provider).await.unwrap_err().code(), Code::PermissionDenied);
    let ward = pb::ConfigureWardRequest {
        command_id: uuid(),
        ward_id: "RXT01-W2".into(),
        site_id: "RXT01".into(),
        name: "Rowan".into(),
        specialty: String::new(),
    };
    assert_eq!(
        app.client.configure_ward(app.request(Role::WardNurse, ward)).await.unwrap_err().code(),
        Code::PermissionDenied
    );
}

#[tokio::test]
async fn concurrent_admissions_of_one_patient_open_exactly_one_stay() {
    let mut app = TestServices::spawn().await;
    app.configure(9).await;
    let nhs = patient(7);
    let attempts = (0..8).map(|n| {
        let mut client = app.client.clone();
        let request = app.request(Role::WardNurse, admit(&uuid(), bed(n), nhs.clone()));
        tokio::spawn(async move { client.admit_patient(request).await })
    });
    let results: Vec<_> = futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(admitted, 1, "{results:?}");
    for refused in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(matches!(refused.code(), Code::FailedPrecondition | Code::Aborted), "{refused:?}");
    }
    let inpatient = StreamName::new(format!("inpatient-{nhs}")).unwrap();
    let opened = read_full_stream(app.store.as_ref(), &inpatient).await.unwrap();
    assert_eq!(opened.len(), 1);

    // And eight patients racing for one untouched bed: one gets it.
    let attempts = (0..8).map(|n| {
        let mut client = app.client.clone();
        let request = app.request(Role::WardNurse, admit(&uuid(), bed(8), patient(100 + n)));
        tokio::spawn(async move { client.admit_patient(request).await })
    });
    let results: Vec<_> = futures::future::join_all(attempts).await.into_iter().map(Result::unwrap).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
}

#[tokio::test]
async fn correlation_and_trace_context_from_the_caller_are_recorded_and_junk_is_dropped() {
    let mut app = TestServices::spawn().await;
    app.configure(2).await;
    let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let correlation = uuid();
    let mut request = app.request(Role::WardNurse, admit(&uuid(), bed(0), patient(1)));
    request.metadata_mut().insert("traceparent", traceparent.parse().unwrap());
    request.metadata_mut().insert("x-correlation-id", correlation.parse().unwrap());
    let stay = app.client.admit_patient(request).await.unwrap().into_inner().stay_id;
    let events = read_full_stream(app.store.as_ref(), &StreamName::new(format!("stay-{stay}")).unwrap())
        .await
        .unwrap();
    assert_eq!(events[0].metadata.traceparent.as_deref(), Some(traceparent));
    assert_eq!(events[0].metadata.correlation_id.to_string(), correlation);

    let mut junk = app.request(Role::WardNurse, admit(&uuid(), bed(1), patient(2)));
    junk.metadata_mut().insert("traceparent", "<script>".parse().unwrap());
    let stay = app.client.admit_patient(junk).await.unwrap().into_inner().stay_id;
    let events = read_full_stream(app.store.as_ref(), &StreamName::new(format!("stay-{stay}")).unwrap())
        .await
        .unwrap();
    assert_eq!(events[0].metadata.traceparent, None);
}

#[tokio::test]
async fn health_reports_the_bed_service_serving() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    let app = TestServices::spawn().await;
    let mut health = HealthClient::new(app.channel.clone());
    let request = HealthCheckRequest { service: "careflow.beds.v1.BedService".into() };
    let status = health.check(request).await.unwrap().into_inner().status;
    assert_eq!(status, ServingStatus::Serving as i32);
    let unknown =
        health.check(HealthCheckRequest { service: "careflow.nope.v1.Nope".into() }).await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound);
}

#[tokio::test]
async fn a_command_id_reused_for_another_command_is_refused_and_stores_nothing() {
    let mut app = TestServices::spawn().await;
    app.configure(2).await;
    let command_id = uuid();
    app.client
        .admit_patient(app.request(Role::WardNurse, admit(&command_id, bed(0), patient(1))))
        .await
        .unwrap();
    let head = app.head();
    // Another bed, another patient, under the same command id.
    let reused = app.request(Role::WardNurse, admit(&command_id, bed(1), patient(2)));
    let status = app.client.admit_patient(reused).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    assert!(status.message().contains("command id was already used"), "{}", status.message());
    // Another kind of command under it.
    let block = pb::BlockBedRequest {
        command_id: command_id.clone(),
        bed_id: bed(1),
        reason: pb::BlockReason::Maintenance as i32,
        note: String::new(),
    };
    let status = app.client.block_bed(app.request(Role::WardNurse, block)).await.unwrap_err();
    assert_eq!(status.code(), Code::AlreadyExists);
    // The same command from someone else.
    let other = app.request(Role::BedManager, admit(&command_id, bed(0), patient(1)));
    assert_eq!(app.client.admit_patient(other).await.unwrap_err().code(), Code::AlreadyExists);
    assert_eq!(app.head(), head, "nothing stored");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_copies_of_one_command_all_get_the_first_result() {
    let mut app = TestServices::spawn_on_sqlite().await;
    app.configure(2).await;
    for round in 0..20 {
        // A block that a second run would refuse ("bed … is BLOCKED: cannot block it").
        let block = pb::BlockBedRequest {
            command_id: uuid(),
            bed_id: bed(0),
            reason: pb::BlockReason::Staffing as i32,
            note: String::new(),
        };
        let unblock = pb::UnblockBedRequest { command_id: uuid(), bed_id: bed(0) };
        // An admission that a second run would refuse ("stay … already exists").
        let admission = admit(&uuid(), bed(1), patient(200 + round));
        let copies = (0..8).map(|_| {
            let (mut client, block) = (app.client.clone(), app.request(Role::WardNurse, block.clone()));
            let admission = app.request(Role::WardNurse, admission.clone());
            tokio::spawn(async move {
                let blocked = client.block_bed(block).await.map(|r| r.into_inner());
                let admitted = client.admit_patient(admission).await.map(|r| r.into_inner());
                (blocked, admitted)
            })
        });
        let results: Vec<_> =
            futures::future::join_all(copies).await.into_iter().map(Result::unwrap).collect();
        let (first_block, first_admission) = (&results[0].0, &results[0].1);
        for (blocked, admitted) in &results {
            assert!(blocked.is_ok() && admitted.is_ok(), "round {round}: {blocked:?} {admitted:?}");
            assert_eq!(blocked.as_ref().unwrap(), first_block.as_ref().unwrap(), "round {round}");
            assert_eq!(admitted.as_ref().unwrap(), first_admission.as_ref().unwrap(), "round {round}");
        }
        let stay = &first_admission.as_ref().unwrap().stay_id;
        let stay_events =
            read_full_stream(app.store.as_ref(), &StreamName::new(format!("stay-{stay}")).unwrap())
                .await
                .unwrap();
        assert_eq!(stay_events.len(), 1, "round {round}: one admission");
        // Back to the start for the next round: unblock, discharge, clean.
        app.client.unblock_bed(app.request(Role::WardNurse, unblock)).await.unwrap();
        let discharge = pb::DischargePatientRequest {
            command_id: uuid(),
            stay_id: stay.clone(),
            destination: pb::DischargeDestination::UsualResidence as i32,
            pathway: 0,
        };
        app.client.discharge_patient(app.request(Role::WardNurse, discharge)).await.unwrap();
        let clean = pb::MarkBedCleanedRequest { command_id: uuid(), bed_id: bed(1) };
        app.client.mark_bed_cleaned(app.request(Role::Housekeeping, clean)).await.unwrap();
    }
    let blocks = read_full_stream(app.store.as_ref(), &StreamName::new(format!("bed-{}", bed(0))).unwrap())
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.event_type == "BedBlocked")
        .count();
    assert_eq!(blocks, 20, "one block per round");
}

#[tokio::test]
async fn reflection_speaks_v1_and_v1alpha() {
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest as V1Request;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse as V1Response;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaResponse;
    use tonic_reflection::pb::{v1, v1alpha};
    let app = TestServices::spawn().await;

    let mut client = v1::server_reflection_client::ServerReflectionClient::new(app.channel.clone());
    let request = v1::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(V1Request::ListServices(String::new())),
    };
    let mut answers =
        client.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let Some(V1Response::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("a service list")
    };
    assert!(list.service.iter().any(|s| s.name == "careflow.beds.v1.BedService"), "{list:?}");

    let mut client = v1alpha::server_reflection_client::ServerReflectionClient::new(app.channel.clone());
    let request = v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(AlphaRequest::ListServices(String::new())),
    };
    let mut answers =
        client.server_reflection_info(tokio_stream::iter([request])).await.unwrap().into_inner();
    let Some(AlphaResponse::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("a service list")
    };
    assert!(list.service.iter().any(|s| s.name == "careflow.beds.v1.BedService"), "{list:?}");
}

#[tokio::test]
async fn another_organisation_cannot_change_a_trusts_beds() {
    let mut app = TestServices::spawn().await;
    app.configure(2).await;
    let head = app.head();
    let block = |bed_id: String| pb::BlockBedRequest {
        command_id: uuid(),
        bed_id,
        reason: pb::BlockReason::Maintenance as i32,
        note: String::new(),
    };
    // A ward nurse and even an admin of the community trust (RYC) at the acute trust's (RXA) site.
    for role in [Role::WardNurse, Role::BedManager, Role::Admin] {
        let status = app.client.block_bed(app.request_from(role, "RYC", block(bed(0)))).await.unwrap_err();
        assert_eq!(status.code(), Code::PermissionDenied, "{role}");
        assert!(status.message().contains("RYC") && status.message().contains("RXA"), "{}", status.message());
        let admission = app.request_from(role, "RYC", admit(&uuid(), bed(0), patient(3)));
        assert_eq!(app.client.admit_patient(admission).await.unwrap_err().code(), Code::PermissionDenied);
    }
    let ward = pb::ConfigureWardRequest {
        command_id: uuid(),
        ward_id: "RXT01-W9".into(),
        site_id: "RXT01".into(),
        name: "Not theirs".into(),
        specialty: String::new(),
    };
    let status = app.client.configure_ward(app.request_from(Role::Admin, "RYC", ward)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    let bed_elsewhere = pb::AddBedRequest {
        command_id: uuid(),
        bed_id: "RXT01-W1-B77".into(),
        ward_id: "RXT01-W1".into(),
        label: "Not theirs".into(),
    };
    assert_eq!(
        app.client.add_bed(app.request_from(Role::Admin, "RYC", bed_elsewhere)).await.unwrap_err().code(),
        Code::PermissionDenied
    );
    assert_eq!(app.head(), head, "nothing stored");

    // A stay in RXA's bed is RXA's: RYC cannot discharge it either.
    let stay = app
        .client
        .admit_patient(app.request(Role::WardNurse, admit(&uuid(), bed(1), patient(4))))
        .await
        .unwrap()
        .into_inner()
        .stay_id;
    let discharge = pb::DischargePatientRequest {
        command_id: uuid(),
        stay_id: stay,
        destination: pb::DischargeDestination::UsualResidence as i32,
        pathway: 0,
    };
    let status =
        app.client.discharge_patient(app.request_from(Role::WardNurse, "RYC", discharge.clone())).await;
    assert_eq!(status.unwrap_err().code(), Code::PermissionDenied);
    // The trust's own nurse can.
    app.client.block_bed(app.request(Role::WardNurse, block(bed(0)))).await.unwrap();
    app.client.discharge_patient(app.request(Role::WardNurse, discharge)).await.unwrap();
}

mod assessments;
mod brokerage;
mod patients;

/// The fields an INVALID_ARGUMENT status names.
fn violations(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations)
        .unwrap_or_default()
        .into_iter()
        .map(|v| v.field)
        .collect()
}
