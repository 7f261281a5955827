//! The gateway in process on port 0, over stand-ins it can be tested against: a fake beds gRPC
//! service (with gRPC health) whose answers a test chooses, servers that never answer or drop
//! the connection, and a bed board whose checkpoint, contents and failures a test controls.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use careflow_auth::{Actor, Authenticator, JwtConfig, Role};
use careflow_domain::beds::BedStatus;
use careflow_gateway::{DevSignIn, Gateway, GatewayConfig, GatewaySettings, Readers};
use careflow_projections::ProjectionError;
use careflow_projections::assessments::AssessmentModel;
use careflow_projections::bed_board::{
    BedBoardReader, BedChange, BedChanges, BedView, Capacity, SiteView, WardView,
};
use careflow_projections::documents::MemoryDocuments;
use careflow_projections::patient_summary::PatientSummaries;
use careflow_projections::task_board::TaskBoard;
use careflow_projections::virtual_wards::VirtualWardModel;
use careflow_proto::beds::v1 as pb;
use careflow_proto::beds::v1::bed_service_server::{BedService, BedServiceServer};
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot, watch};
use tonic::{Request, Response, Status};

const SECRET: &str = "gateway-test-secret";
/// The ward every fake board has.
pub const WARD: &str = "RXT01-W1";
/// The bed every fake board has.
pub const BED: &str = "RXT01-W1-B01";

pub fn authenticator() -> Authenticator {
    Authenticator::new(JwtConfig {
        secret: SECRET.into(),
        issuer: "careflow".into(),
        audience: "careflow".into(),
    })
}

/// A token for `role`, valid for `ttl` from now.
pub fn token_for(role: Role, ttl: chrono::Duration) -> String {
    let actor =
        Actor { user_id: format!("test.{role}"), role, organisation: "RXA".into(), teams: Vec::new() };
    authenticator().issue(&actor, chrono::Utc::now(), ttl).expect("issue a token")
}

/// An admin's token, valid for an hour.
pub fn admin() -> String {
    token_for(Role::Admin, chrono::Duration::hours(1))
}

/// What the fake beds service answers to every command.
#[derive(Debug, Clone)]
pub enum Answer {
    /// Accepted, the last event at this position, touching [`BED`].
    Ack(u64),
    /// Refused with this status.
    Fail(tonic::Code, &'static str),
}

/// The fake beds service: answers every command with its [`Answer`] and counts the calls.
#[derive(Clone)]
pub struct FakeBeds {
    answer: Arc<Mutex<Answer>>,
    calls: Arc<AtomicUsize>,
}

impl FakeBeds {
    fn answer(&self) -> Result<pb::CommandAck, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match self.answer.lock().expect("answer").clone() {
            Answer::Ack(position) => Ok(pb::CommandAck { position, bed_ids: vec![BED.into()] }),
            Answer::Fail(code, message) => Err(Status::new(code, message)),
        }
    }
}

macro_rules! fake_commands {
    ($($method:ident($request:ident) -> $response:ident;)*) => {
        #[tonic::async_trait]
        impl BedService for FakeBeds {
            $(
                async fn $method(&self, _: Request<pb::$request>) -> Result<Response<pb::$response>, Status> {
                    self.answer().map(|ack| Response::new(pb::$response { ack: Some(ack) }))
                }
            )*
            async fn admit_patient(
                &self,
                _: Request<pb::AdmitPatientRequest>,
            ) -> Result<Response<pb::AdmitPatientResponse>, Status> {
                Err(Status::unimplemented("not faked"))
            }
        }
    };
}

fake_commands! {
    register_site(RegisterSiteRequest) -> RegisterSiteResponse;
    configure_ward(ConfigureWardRequest) -> ConfigureWardResponse;
    add_bed(AddBedRequest) -> AddBedResponse;
    transfer_patient(TransferPatientRequest) -> TransferPatientResponse;
    set_expected_discharge_date(SetExpectedDischargeDateRequest) -> SetExpectedDischargeDateResponse;
    mark_medically_optimised(MarkMedicallyOptimisedRequest) -> MarkMedicallyOptimisedResponse;
    discharge_patient(DischargePatientRequest) -> DischargePatientResponse;
    mark_bed_cleaned(MarkBedCleanedRequest) -> MarkBedCleanedResponse;
    block_bed(BlockBedRequest) -> BlockBedResponse;
    unblock_bed(UnblockBedRequest) -> UnblockBedResponse;
    reserve_bed(ReserveBedRequest) -> ReserveBedResponse;
    release_bed_reservation(ReleaseBedReservationRequest) -> ReleaseBedReservationResponse;
}

/// The fake beds service and gRPC health, served on port 0 until dropped.
pub struct FakeServices {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    beds: FakeBeds,
    stop: Option<oneshot::Sender<()>>,
}

impl FakeServices {
    /// Serves, answering every command with `Ack(1)`.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let beds = FakeBeds { answer: Arc::new(Mutex::new(Answer::Ack(1))), calls: Arc::default() };
        let (health, health_service) = tonic_health::server::health_reporter();
        health.set_serving::<BedServiceServer<FakeBeds>>().await;
        let (stop, stopped) = oneshot::channel::<()>();
        let router = tonic::transport::Server::builder()
            .add_service(health_service)
            .add_service(BedServiceServer::new(beds.clone()));
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        tokio::spawn(async move {
            let _ = router
                .serve_with_incoming_shutdown(incoming, async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self { endpoint, beds, stop: Some(stop) }
    }

    /// Answers every later command with `answer`.
    pub fn answer(&self, answer: Answer) {
        *self.beds.answer.lock().expect("answer") = answer;
    }

    /// How many commands reached the service.
    pub fn calls(&self) -> usize {
        self.beds.calls.load(Ordering::SeqCst)
    }
}

impl Drop for FakeServices {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A TCP endpoint that accepts connections and never answers (a frozen process).
pub async fn black_hole() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    endpoint
}

/// A TCP endpoint that reads what a client sends, then drops the connection without a word
/// (a process that dies mid-call).
pub async fn dies_mid_call() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = vec![0u8; 64 * 1024];
                let _ = socket.read(&mut buffer).await;
            });
        }
    });
    endpoint
}

/// A bed board a test controls: one site, one ward, one bed; a checkpoint; a switch that makes
/// every read fail as a Redis outage would.
pub struct FakeBoard {
    checkpoint: watch::Sender<u64>,
    bed: Mutex<BedView>,
    down: AtomicBool,
    changes: broadcast::Sender<BedChange>,
}

impl FakeBoard {
    /// At checkpoint 0, with [`BED`] AVAILABLE.
    pub fn new() -> Arc<Self> {
        let bed = BedView {
            bed_id: BED.into(),
            ward_id: WARD.into(),
            site_id: "RXT01".into(),
            label: "Bed 1".into(),
            status: BedStatus::Available,
            since: chrono::DateTime::from_timestamp(1_764_547_200, 0).expect("a time"),
            stay_id: None,
            patient: None,
            expected_discharge_date: None,
            medically_optimised: false,
            discharge_ready_date: None,
            pathway: None,
            reserved_for: None,
            blocked_reason: None,
            position: 0,
        };
        Arc::new(Self {
            checkpoint: watch::channel(0).0,
            bed: Mutex::new(bed),
            down: AtomicBool::new(false),
            changes: broadcast::channel(16).0,
        })
    }

    /// The model reflects `position`, with the bed in `status`.
    pub fn advance(&self, position: u64, status: BedStatus) {
        self.bed.lock().expect("bed").status = status;
        self.checkpoint.send_replace(position);
    }

    /// Every read fails (or succeeds again).
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    fn up(&self) -> Result<(), ProjectionError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(ProjectionError::Storage("Connection refused (os error 111)".into()));
        }
        Ok(())
    }

    fn bed_view(&self) -> BedView {
        self.bed.lock().expect("bed").clone()
    }
}

#[async_trait]
impl BedBoardReader for FakeBoard {
    async fn sites(&self) -> Result<Vec<SiteView>, ProjectionError> {
        self.up()?;
        Ok(vec![SiteView { site_id: "RXT01".into(), name: "Test General".into() }])
    }
    async fn wards(&self, _site_id: Option<&str>) -> Result<Vec<WardView>, ProjectionError> {
        Ok(self.ward(WARD).await?.into_iter().collect())
    }
    async fn ward(&self, ward_id: &str) -> Result<Option<WardView>, ProjectionError> {
        self.up()?;
        Ok((ward_id == WARD).then(|| WardView {
            ward_id: WARD.into(),
            site_id: "RXT01".into(),
            name: "Acute Medical Unit".into(),
            specialty: None,
        }))
    }
    async fn bed_board(&self, ward_id: &str) -> Result<Option<Vec<BedView>>, ProjectionError> {
        self.up()?;
        Ok((ward_id == WARD).then(|| vec![self.bed_view()]))
    }
    async fn bed(&self, bed_id: &str) -> Result<Option<BedView>, ProjectionError> {
        self.up()?;
        Ok((bed_id == BED).then(|| self.bed_view()))
    }
    async fn ward_capacity(&self, ward_id: &str) -> Result<Option<Capacity>, ProjectionError> {
        Ok(self.bed_board(ward_id).await?.map(|beds| Capacity::of(&beds)))
    }
    async fn site_capacity(&self, _site_id: &str) -> Result<Option<Capacity>, ProjectionError> {
        self.ward_capacity(WARD).await
    }
    fn checkpoint(&self) -> u64 {
        *self.checkpoint.borrow()
    }
    async fn wait_for(&self, position: u64, timeout: Duration) -> bool {
        let mut checkpoint = self.checkpoint.subscribe();
        tokio::time::timeout(timeout, checkpoint.wait_for(|at| *at >= position))
            .await
            .is_ok_and(|r| r.is_ok())
    }
    fn changes(&self) -> BedChanges {
        BedChanges::of_beds(self.changes.subscribe())
    }
}

/// Settings for tests: short deadlines and health checks.
pub fn quick_settings() -> GatewaySettings {
    GatewaySettings {
        grpc_deadline: Duration::from_millis(500),
        health_check_interval: Duration::from_millis(100),
        health_check_timeout: Duration::from_millis(200),
        ..GatewaySettings::default()
    }
}

/// A running gateway; stops when dropped.
pub struct TestGateway {
    /// Its address.
    pub addr: SocketAddr,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
}

impl TestGateway {
    /// Starts a gateway over `board` calling the services at `endpoint`.
    pub async fn start(endpoint: &str, board: Arc<FakeBoard>, settings: GatewaySettings) -> Self {
        Self::start_with(endpoint, board, settings, None).await
    }

    /// As [`TestGateway::start`], with the development sign-in when `dev_sign_in` is given.
    pub async fn start_with(
        endpoint: &str,
        board: Arc<FakeBoard>,
        settings: GatewaySettings,
        dev_sign_in: Option<DevSignIn>,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let (_, ready) = watch::channel(true);
        let config = GatewayConfig {
            listener,
            grpc_endpoint: endpoint.to_owned(),
            auth: authenticator(),
            graphiql: false,
            read_your_writes_timeout: Duration::from_millis(200),
            ready,
            metrics: Arc::default(),
            settings,
            dev_sign_in,
        };
        let patients = Arc::new(MemoryDocuments::new(PatientSummaries));
        let tasks = Arc::new(MemoryDocuments::new(TaskBoard));
        let assessments = Arc::new(MemoryDocuments::new(AssessmentModel));
        let virtual_wards = Arc::new(MemoryDocuments::new(VirtualWardModel));
        let brokerage = Arc::new(MemoryDocuments::new(careflow_projections::brokerage::BrokerageModel));
        let flow = Arc::new(MemoryDocuments::new(careflow_projections::flow::FlowModel));
        let readers = Readers { beds: board, patients, tasks, assessments, virtual_wards, brokerage, flow };
        let gateway = Gateway::build(config, readers).await.expect("build the gateway");
        let addr = gateway.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(gateway.run_until_stopped(async {
            let _ = stopped.await;
        }));
        Self { addr, client: reqwest::Client::new(), stop: Some(stop) }
    }

    /// POSTs `body` to `/graphql` with `token`; returns the status and the JSON body.
    pub async fn post(&self, token: Option<&str>, body: impl Into<reqwest::Body>) -> (u16, Value) {
        let mut request = self
            .client
            .post(format!("http://{}/graphql", self.addr))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("POST /graphql");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        let json = serde_json::from_str(&text).unwrap_or_else(|e| panic!("a JSON body ({e}): {text}"));
        (status, json)
    }

    /// POSTs a GraphQL request as an admin.
    pub async fn graphql(&self, query: &str, variables: Value) -> (u16, Value) {
        let body = json!({"query": query, "variables": variables}).to_string();
        self.post(Some(&admin()), body).await
    }

    /// GETs `path`: status and body.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let response = self.client.get(format!("http://{}{path}", self.addr)).send().await.expect("GET");
        (response.status().as_u16(), response.text().await.expect("a body"))
    }

    /// Polls `path` until it answers `status`, for at most 10 s.
    pub async fn wait_for_status(&self, path: &str, status: u16) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            if self.get(path).await.0 == status {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{path} did not answer {status} within 10 s");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The `extensions.code` of the first error.
pub fn code(response: &Value) -> &str {
    response["errors"][0]["extensions"]["code"].as_str().unwrap_or_default()
}

/// The fields named by the first error's `extensions.fieldViolations`.
pub fn violated_fields(response: &Value) -> Vec<String> {
    response["errors"][0]["extensions"]["fieldViolations"]
        .as_array()
        .map(|list| list.iter().filter_map(|v| v["field"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}
