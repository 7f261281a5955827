//! The commands workflows and the clock send, and how they are sent: over the services' public
//! gRPC API ([`GrpcSender`]), as careflow itself (a token of role `careflow`, minted here from
//! the deployment's signing secret and renewed before it expires), never by calling into
//! another context in-process.
//!
//! Every command carries a command id derived from what caused it ([`command_id`]), so a
//! replay, a restart or a second copy of a workflow sends the same id and the services answer
//! it with the first outcome.

use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use careflow_auth::{Actor, Authenticator, Role};
use careflow_proto::beds::v1 as beds;
use careflow_proto::beds::v1::bed_service_client::BedServiceClient;
use careflow_proto::brokerage::v1 as brokerage;
use careflow_proto::brokerage::v1::brokerage_service_client::BrokerageServiceClient;
use careflow_proto::flags::v1 as flags;
use careflow_proto::flags::v1::flag_service_client::FlagServiceClient;
use careflow_proto::tasks::v1 as tasks;
use careflow_proto::tasks::v1::task_service_client::TaskServiceClient;
use careflow_proto::virtualwards::v1 as virtualwards;
use careflow_proto::virtualwards::v1::virtual_ward_service_client::VirtualWardServiceClient;
use chrono::{DateTime, Utc};
use tonic::transport::Channel;
use tonic::{Code, Status};
use uuid::Uuid;

/// Namespace of the command ids workflows and the clock derive.
const COMMAND_NAMESPACE: Uuid = Uuid::from_u128(0x6361_7265_666c_6f77_8000_0000_0000_0003);

/// The command id of the command `purpose` caused by `cause` (an event id, or a deadline's
/// key): the same inputs always give the same id.
pub fn command_id(cause: &str, purpose: &str) -> String {
    Uuid::new_v5(&COMMAND_NAMESPACE, format!("{cause}/{purpose}").as_bytes()).to_string()
}

/// A command a workflow or the clock sends.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `careflow.tasks.v1.TaskService/CreateTask`.
    CreateTask(tasks::CreateTaskRequest),
    /// `careflow.tasks.v1.TaskService/CompleteTask`.
    CompleteTask(tasks::CompleteTaskRequest),
    /// `careflow.tasks.v1.TaskService/CancelTask`.
    CancelTask(tasks::CancelTaskRequest),
    /// `careflow.tasks.v1.TaskService/MarkTaskOverdue`.
    MarkTaskOverdue(tasks::MarkTaskOverdueRequest),
    /// `careflow.beds.v1.BedService/MarkBedCleaned`.
    MarkBedCleaned(beds::MarkBedCleanedRequest),
    /// `careflow.flags.v1.FlagService/ApplyFlagRule`.
    ApplyFlagRule(flags::ApplyFlagRuleRequest),
    /// `careflow.virtualwards.v1.VirtualWardService/MarkReadingMissed`.
    MarkReadingMissed(virtualwards::MarkReadingMissedRequest),
    /// `careflow.brokerage.v1.BrokerageService/CloseOfferWindow`.
    CloseOfferWindow(brokerage::CloseOfferWindowRequest),
}

impl Command {
    /// The command's name, for logs and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CreateTask(_) => "CreateTask",
            Self::CompleteTask(_) => "CompleteTask",
            Self::CancelTask(_) => "CancelTask",
            Self::MarkTaskOverdue(_) => "MarkTaskOverdue",
            Self::MarkBedCleaned(_) => "MarkBedCleaned",
            Self::ApplyFlagRule(_) => "ApplyFlagRule",
            Self::MarkReadingMissed(_) => "MarkReadingMissed",
            Self::CloseOfferWindow(_) => "CloseOfferWindow",
        }
    }

    /// Its command id.
    pub fn command_id(&self) -> &str {
        match self {
            Self::CreateTask(r) => &r.command_id,
            Self::CompleteTask(r) => &r.command_id,
            Self::CancelTask(r) => &r.command_id,
            Self::MarkTaskOverdue(r) => &r.command_id,
            Self::MarkBedCleaned(r) => &r.command_id,
            Self::ApplyFlagRule(r) => &r.command_id,
            Self::MarkReadingMissed(r) => &r.command_id,
            Self::CloseOfferWindow(r) => &r.command_id,
        }
    }
}

/// What the services answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// Global position of the command's last event (or of what it found, with nothing to do).
    pub position: u64,
    /// The task (or bed) it acted on; for a creation, the new task's id.
    pub id: String,
}

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// The services refused it for good (the state does not allow it, what it names does not
    /// exist): sending it again gives the same answer.
    #[error("refused ({code:?}): {message}")]
    Refused {
        /// The gRPC code.
        code: Code,
        /// The services' message (it may name the patient: never logged).
        message: String,
    },
    /// The services could not be reached or did not answer, or a concurrent change won: the
    /// same command (same id) is sent again later.
    #[error("not carried out yet ({code:?}): {message}")]
    Transient {
        /// The gRPC code.
        code: Code,
        /// What went wrong.
        message: String,
    },
}

impl SendError {
    /// Classifies a gRPC status.
    pub fn of(status: &Status) -> Self {
        let (code, message) = (status.code(), status.message().to_owned());
        match code {
            Code::InvalidArgument
            | Code::NotFound
            | Code::AlreadyExists
            | Code::PermissionDenied
            | Code::FailedPrecondition
            | Code::OutOfRange
            | Code::Unimplemented => Self::Refused { code, message },
            Code::Ok
            | Code::Cancelled
            | Code::Unknown
            | Code::DeadlineExceeded
            | Code::ResourceExhausted
            | Code::Aborted
            | Code::Internal
            | Code::Unavailable
            | Code::DataLoss
            | Code::Unauthenticated => Self::Transient { code, message },
        }
    }
}

/// Sends commands to the services. The gRPC one is [`GrpcSender`]; tests use their own.
#[async_trait]
pub trait Sender: Send + Sync + 'static {
    /// Sends one command and waits for the answer.
    async fn send(&self, command: &Command) -> Result<Ack, SendError>;
}

/// How long a token careflow mints for itself lives; renewed at half-life.
const TOKEN_TTL_MINUTES: i64 = 60;

/// Sends commands over the services' gRPC API as careflow itself.
pub struct GrpcSender {
    tasks: TaskServiceClient<Channel>,
    beds: BedServiceClient<Channel>,
    flags: FlagServiceClient<Channel>,
    virtual_wards: VirtualWardServiceClient<Channel>,
    brokerage: BrokerageServiceClient<Channel>,
    auth: Authenticator,
    token: Mutex<Option<(String, DateTime<Utc>)>>,
    deadline: Duration,
}

impl GrpcSender {
    /// A sender over `channel` (to the services), minting its tokens with `auth`.
    pub fn new(channel: Channel, auth: Authenticator) -> Self {
        Self {
            tasks: TaskServiceClient::new(channel.clone()),
            beds: BedServiceClient::new(channel.clone()),
            flags: FlagServiceClient::new(channel.clone()),
            virtual_wards: VirtualWardServiceClient::new(channel.clone()),
            brokerage: BrokerageServiceClient::new(channel),
            auth,
            token: Mutex::new(None),
            deadline: Duration::from_secs(5),
        }
    }

    /// careflow's token, minted anew at half its life.
    fn token(&self) -> Result<String, SendError> {
        let now = Utc::now();
        let mut cached = self.token.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((token, renew_at)) = cached.as_ref()
            && *renew_at > now
        {
            return Ok(token.clone());
        }
        let actor = Actor {
            user_id: "careflow".into(),
            role: Role::Careflow,
            organisation: "careflow".into(),
            teams: Vec::new(),
        };
        let ttl = chrono::Duration::minutes(TOKEN_TTL_MINUTES);
        let token = self.auth.issue(&actor, now, ttl).map_err(|e| SendError::Transient {
            code: Code::Unauthenticated,
            message: format!("cannot mint careflow's token: {e}"),
        })?;
        *cached = Some((token.clone(), now + ttl / 2));
        Ok(token)
    }

    fn request<T>(&self, message: T) -> Result<tonic::Request<T>, SendError> {
        let mut request = tonic::Request::new(message);
        request.set_timeout(self.deadline);
        let bearer = format!("Bearer {}", self.token()?).parse().map_err(|_| SendError::Transient {
            code: Code::Unauthenticated,
            message: "careflow's token is not a valid header".into(),
        })?;
        request.metadata_mut().insert("authorization", bearer);
        Ok(request)
    }
}

/// A response without its ack: the services broke their contract (sent again later).
fn no_ack() -> SendError {
    SendError::Transient { code: Code::Internal, message: "a command response without an ack".into() }
}

fn ack_of(ack: Option<tasks::CommandAck>) -> Result<Ack, SendError> {
    ack.map(|a| Ack { position: a.position, id: a.id }).ok_or_else(no_ack)
}

#[async_trait]
impl Sender for GrpcSender {
    async fn send(&self, command: &Command) -> Result<Ack, SendError> {
        let (mut tasks, mut beds, mut flag_service) =
            (self.tasks.clone(), self.beds.clone(), self.flags.clone());
        let status = |s: Status| SendError::of(&s);
        match command {
            Command::CreateTask(r) => {
                ack_of(tasks.create_task(self.request(r.clone())?).await.map_err(status)?.into_inner().ack)
            }
            Command::CompleteTask(r) => {
                ack_of(tasks.complete_task(self.request(r.clone())?).await.map_err(status)?.into_inner().ack)
            }
            Command::CancelTask(r) => {
                ack_of(tasks.cancel_task(self.request(r.clone())?).await.map_err(status)?.into_inner().ack)
            }
            Command::MarkTaskOverdue(r) => ack_of(
                tasks.mark_task_overdue(self.request(r.clone())?).await.map_err(status)?.into_inner().ack,
            ),
            Command::MarkBedCleaned(r) => {
                let response =
                    beds.mark_bed_cleaned(self.request(r.clone())?).await.map_err(status)?.into_inner();
                let ack = response.ack.ok_or_else(no_ack)?;
                Ok(Ack { position: ack.position, id: r.bed_id.clone() })
            }
            Command::ApplyFlagRule(r) => {
                let response = flag_service
                    .apply_flag_rule(self.request(r.clone())?)
                    .await
                    .map_err(status)?
                    .into_inner();
                let ack = response.ack.ok_or_else(no_ack)?;
                Ok(Ack { position: ack.position, id: ack.flag_id })
            }
            Command::MarkReadingMissed(r) => {
                let mut client = self.virtual_wards.clone();
                let response =
                    client.mark_reading_missed(self.request(r.clone())?).await.map_err(status)?.into_inner();
                let ack = response.ack.ok_or_else(no_ack)?;
                Ok(Ack { position: ack.position, id: ack.id })
            }
            Command::CloseOfferWindow(r) => {
                let mut client = self.brokerage.clone();
                let response =
                    client.close_offer_window(self.request(r.clone())?).await.map_err(status)?.into_inner();
                let ack = response.ack.ok_or_else(no_ack)?;
                Ok(Ack { position: ack.position, id: ack.id })
            }
        }
    }
}

/// Sends `command` until it is carried out or refused for good, waiting longer after each
/// transient failure (up to `max_backoff`), or until `stop` says to give up (then `None`).
pub async fn send_until_done(
    sender: &dyn Sender,
    command: &Command,
    max_backoff: Duration,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Option<Result<Ack, SendError>> {
    let mut backoff = Duration::from_millis(50);
    loop {
        match sender.send(command).await {
            Ok(ack) => return Some(Ok(ack)),
            Err(refused @ SendError::Refused { .. }) => return Some(Err(refused)),
            Err(error @ SendError::Transient { .. }) => {
                tracing::warn!(command = command.name(), %error, ?backoff, "command not carried out yet; retrying");
                if *stop.borrow() {
                    return None;
                }
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = stopped(stop.clone()) => return None,
                }
                backoff = (backoff * 2).min(max_backoff);
            }
        }
    }
}

/// Resolves once `stop` turns true (or its sender is gone).
pub async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it here, not across an await.
    let _ = stop.wait_for(|s| *s).await.map(|_| ());
}
