//! The GraphQL schema, apart from the HTTP server: queries, mutations and subscriptions over the
//! bed board read model and the beds gRPC service.

mod mutation;
mod query;
mod subscription;
mod types;

use std::sync::Arc;
use std::time::Duration;

use async_graphql::{Context, Schema};
use careflow_auth::Actor;
use careflow_projections::bed_board::BedBoardReader;
use careflow_proto::beds::v1::bed_service_client::BedServiceClient;
use chrono::{DateTime, Utc};
use tonic::transport::Channel;

pub use mutation::{GrpcDeadline, Mutation, ReadYourWrites};
pub use query::Query;
pub use subscription::SubscriptionRoot;

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

/// The caller, who must be allowed to see the bed board.
pub(crate) fn viewer<'a>(ctx: &Context<'a>) -> Result<&'a Caller, ApiError> {
    let caller =
        ctx.data_opt::<Caller>().ok_or_else(|| ApiError::Unauthenticated("missing bearer token".into()))?;
    if !caller.actor.role.can_view_beds() {
        return Err(ApiError::Forbidden(format!("role {} may not see the bed board", caller.actor.role)));
    }
    Ok(caller)
}

/// Limits on what one request may ask for.
pub const MAX_DEPTH: usize = 12;
/// See [`MAX_DEPTH`].
pub const MAX_COMPLEXITY: usize = 1000;

/// Builds the schema.
pub fn build(
    reader: Arc<dyn BedBoardReader>,
    beds: BedServiceClient<Channel>,
    read_your_writes: Duration,
    metrics: GatewayMetrics,
    introspection: bool,
    settings: &GatewaySettings,
) -> CareflowSchema {
    let builder = Schema::build(Query, Mutation, SubscriptionRoot)
        .data(reader)
        .data(beds)
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
    Schema::build(Query, Mutation, SubscriptionRoot).finish().sdl()
}
