//! The GraphQL schema, apart from the HTTP server: each context's schema module (its queries
//! over its read models, mutations through the shared [`command`] helpers, subscriptions),
//! merged into one schema. Adding a context is its module and one entry in each root below.

mod assessments;
mod brokerage;
pub(crate) mod command;
mod flow;
mod mutation;
mod patients;
mod query;
pub(crate) mod subscription;
pub(crate) mod tasks;
mod types;
pub(crate) mod virtualwards;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, MergedObject, MergedSubscription, Schema};
use careflow_auth::Actor;
use careflow_auth::policy::{self, Action};
use careflow_projections::assessments::AssessmentDoc;
use careflow_projections::bed_board::BedBoardReader;
use careflow_projections::brokerage::BrokerageDoc;
use careflow_projections::documents::DocumentReader;
use careflow_projections::flow::FlowDoc;
use careflow_projections::patient_summary::PatientDoc;
use careflow_projections::task_board::TaskDoc;
use careflow_projections::virtual_wards::VirtualWardDoc;
use careflow_proto::assessments::v1::assessment_service_client::AssessmentServiceClient;
use careflow_proto::beds::v1::bed_service_client::BedServiceClient;
use careflow_proto::brokerage::v1::brokerage_service_client::BrokerageServiceClient;
use careflow_proto::flags::v1::flag_service_client::FlagServiceClient;
use careflow_proto::patients::v1::patient_service_client::PatientServiceClient;
use careflow_proto::tasks::v1::task_service_client::TaskServiceClient;
use careflow_proto::virtualwards::v1::virtual_ward_service_client::VirtualWardServiceClient;
use chrono::{DateTime, Utc};
use tonic::transport::Channel;

use assessments::{AssessmentsMutation, AssessmentsQuery, AssessmentsSubscription, Presence};
use brokerage::{BrokerageMutation, BrokerageQuery, BrokerageSubscription};
pub use command::{GrpcDeadline, ReadYourWrites};
use flow::FlowQuery;
use mutation::BedsMutation;
use patients::{PatientsMutation, PatientsQuery, PatientsSubscription};
use query::BedsQuery;
use subscription::BedsSubscription;
use tasks::{TasksMutation, TasksQuery, TasksSubscription};
use virtualwards::{VirtualWardsMutation, VirtualWardsQuery, VirtualWardsSubscription};

/// Every context's queries.
#[derive(MergedObject, Default)]
pub struct Query(
    BedsQuery,
    PatientsQuery,
    TasksQuery,
    AssessmentsQuery,
    VirtualWardsQuery,
    BrokerageQuery,
    FlowQuery,
);

/// Every context's mutations.
#[derive(MergedObject, Default)]
pub struct Mutation(
    BedsMutation,
    PatientsMutation,
    TasksMutation,
    AssessmentsMutation,
    VirtualWardsMutation,
    BrokerageMutation,
);

/// Every context's subscriptions.
#[derive(MergedSubscription, Default)]
pub struct SubscriptionRoot(
    BedsSubscription,
    PatientsSubscription,
    TasksSubscription,
    AssessmentsSubscription,
    VirtualWardsSubscription,
    BrokerageSubscription,
);

/// The read models the gateway reads, one per context's model.
#[derive(Clone)]
pub struct Readers {
    /// The bed board and capacity.
    pub beds: Arc<dyn BedBoardReader>,
    /// The patient summaries and MPI search indexes.
    pub patients: Arc<dyn DocumentReader<PatientDoc>>,
    /// Teams, inboxes, people's tasks and tasks.
    pub tasks: Arc<dyn DocumentReader<TaskDoc>>,
    /// Assessments, their lists and the templates.
    pub assessments: Arc<dyn DocumentReader<AssessmentDoc>>,
    /// Virtual wards, their censuses and observation charts.
    pub virtual_wards: Arc<dyn DocumentReader<VirtualWardDoc>>,
    /// The care market: providers, requests and offers.
    pub brokerage: Arc<dyn DocumentReader<BrokerageDoc>>,
    /// The discharge-to-assess flow: each stay's hand-offs, and the sums per ward and pathway.
    pub flow: Arc<dyn DocumentReader<FlowDoc>>,
}

/// The gRPC clients of every context, over one channel.
#[derive(Clone)]
pub struct Clients {
    /// `careflow.beds.v1`.
    pub beds: BedServiceClient<Channel>,
    /// `careflow.patients.v1`.
    pub patients: PatientServiceClient<Channel>,
    /// `careflow.flags.v1`.
    pub flags: FlagServiceClient<Channel>,
    /// `careflow.tasks.v1`.
    pub tasks: TaskServiceClient<Channel>,
    /// `careflow.assessments.v1`.
    pub assessments: AssessmentServiceClient<Channel>,
    /// `careflow.virtualwards.v1`.
    pub virtual_wards: VirtualWardServiceClient<Channel>,
    /// `careflow.brokerage.v1`.
    pub brokerage: BrokerageServiceClient<Channel>,
}

impl Clients {
    /// Every client over `channel`.
    pub fn new(channel: Channel) -> Self {
        Self {
            beds: BedServiceClient::new(channel.clone()),
            patients: PatientServiceClient::new(channel.clone()),
            flags: FlagServiceClient::new(channel.clone()),
            tasks: TaskServiceClient::new(channel.clone()),
            assessments: AssessmentServiceClient::new(channel.clone()),
            virtual_wards: VirtualWardServiceClient::new(channel.clone()),
            brokerage: BrokerageServiceClient::new(channel),
        }
    }
}

use crate::GatewaySettings;
use crate::error::ApiError;
use crate::guard::Guard;
use crate::metrics::GatewayMetrics;

/// The careflow schema.
pub type CareflowSchema = Schema<Query, Mutation, SubscriptionRoot>;

/// The authenticated caller of a request (put in the request's data by the server).
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub actor: Actor,
    /// Their bearer token, forwarded to the services.
    pub token: String,
    /// The request's W3C `traceparent`, forwarded to the services (and so into event metadata).
    pub traceparent: Option<String>,
    /// When the token expires: a subscription ends then.
    pub expires_at: DateTime<Utc>,
}

/// The authenticated caller.
pub(crate) fn authenticated<'a>(ctx: &Context<'a>) -> Result<&'a Caller, ApiError> {
    ctx.data_opt::<Caller>().ok_or_else(|| ApiError::Unauthenticated("missing bearer token".into()))
}

/// Records a subscription push as a span of the trace that caused it (`trace`: the projection
/// batch's `traceparent`), so a mutation's trace ends at the pushes it caused.
pub(crate) fn pushed(subscription: &'static str, trace: Option<&str>) {
    let Some(trace) = trace.filter(|_| careflow_eventstore::trace::enabled()) else { return };
    let span = tracing::info_span!("subscription push", otel.kind = "producer", subscription);
    careflow_eventstore::trace::continue_trace(&span, Some(trace));
    drop(span.entered());
}

/// The caller, who must be allowed to see the bed board (the policy decides).
pub(crate) fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Caller, ApiError> {
    let caller = authenticated(ctx)?;
    if !policy::role_allows(caller.actor.role, Action::ViewBeds) {
        return Err(ApiError::Forbidden(format!("role {} may not {}", caller.actor.role, Action::ViewBeds)));
    }
    Ok(caller)
}

/// Limits on what one request may ask for.
pub const MAX_DEPTH: usize = 12;
/// See [`MAX_DEPTH`].
pub const MAX_COMPLEXITY: usize = 1000;

/// Builds the schema.
pub fn build(
    readers: Readers,
    clients: Clients,
    read_your_writes: Duration,
    metrics: GatewayMetrics,
    introspection: bool,
    settings: &GatewaySettings,
) -> CareflowSchema {
    let builder = Schema::build(Query::default(), Mutation::default(), SubscriptionRoot::default())
        .data(readers.beds)
        .data(readers.patients)
        .data(readers.tasks)
        .data(readers.assessments)
        .data(readers.virtual_wards)
        .data(readers.brokerage)
        .data(readers.flow)
        .data(clients.beds)
        .data(clients.patients)
        .data(clients.flags)
        .data(clients.tasks)
        .data(clients.assessments)
        .data(clients.virtual_wards)
        .data(clients.brokerage)
        .data(Arc::new(Presence::default()))
        .data(ReadYourWrites(read_your_writes))
        .data(GrpcDeadline(settings.grpc_deadline))
        .data(metrics)
        .extension(Guard { max_string_bytes: settings.max_string_bytes })
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY);
    if introspection { builder.finish() } else { builder.disable_introspection().finish() }
}

/// The schema's SDL, independent of any running service.
pub(crate) fn build_sdl() -> String {
    Schema::build(Query::default(), Mutation::default(), SubscriptionRoot::default()).finish().sdl()
}
