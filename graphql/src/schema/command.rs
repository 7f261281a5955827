//! What every context's mutations share: the caller's role checked against the command's own
//! action (the policy), the gRPC request with the caller's token, a correlation id, the trace
//! context and a deadline, and the read-your-writes wait on the read model the command
//! changes. A context's mutation is then: build the message, [`send!`], [`visible`], read back.

use std::future::Future;
use std::time::{Duration, Instant};

use async_graphql::{Context, ID};
use careflow_auth::policy::{self, Action};

use super::{Caller, authenticated};
use crate::error::ApiError;
use crate::guard::NotYetVisible;
use crate::metrics::GatewayMetrics;

/// How long a mutation waits for the read models; set when the schema is built.
#[derive(Debug, Clone, Copy)]
pub struct ReadYourWrites(pub Duration);

/// How long a call to the services may take; set when the schema is built.
#[derive(Debug, Clone, Copy)]
pub struct GrpcDeadline(pub Duration);

/// When no deadline is in the schema's data (it always is, from `build`).
const FALLBACK_DEADLINE: Duration = Duration::from_secs(5);

/// A client command id, or a fresh one when the client sent none (retries then cannot be
/// recognised: clients should send one).
pub(crate) fn command_id(id: Option<ID>) -> String {
    id.map_or_else(|| uuid::Uuid::new_v4().to_string(), |id| id.0)
}

/// The caller, who must hold a role that may take `action` (the services check the owning
/// organisation too).
pub(crate) fn actor_for<'a>(ctx: &Context<'a>, action: Action) -> Result<&'a Caller, ApiError> {
    let caller = authenticated(ctx)?;
    if !policy::role_allows(caller.actor.role, action) {
        return Err(ApiError::Forbidden(format!("role {} may not {action}", caller.actor.role)));
    }
    Ok(caller)
}

/// The client `C` (from the schema's data), the request wrapped with the caller's token, a
/// correlation id and the deadline (sent as `grpc-timeout`, so the services stop too), and the
/// deadline.
pub(crate) fn prepare<C: Clone + Send + Sync + 'static, T>(
    ctx: &Context<'_>,
    action: Action,
    message: T,
) -> Result<(C, tonic::Request<T>, Duration), ApiError> {
    let caller = actor_for(ctx, action)?;
    let client = ctx.data::<C>().map_err(|e| ApiError::internal(&e.message))?.clone();
    let deadline = ctx.data::<GrpcDeadline>().map_or(FALLBACK_DEADLINE, |d| d.0);
    let mut request = tonic::Request::new(message);
    request.set_timeout(deadline);
    let bearer = format!("Bearer {}", caller.token)
        .parse()
        .map_err(|_| ApiError::Unauthenticated("malformed token".into()))?;
    request.metadata_mut().insert("authorization", bearer);
    if let Ok(correlation) = uuid::Uuid::new_v4().to_string().parse() {
        request.metadata_mut().insert("x-correlation-id", correlation);
    }
    // The request's own span, continuing the client's trace; the client's when untraced.
    let traceparent = careflow_eventstore::trace::traceparent(&tracing::Span::current())
        .or_else(|| caller.traceparent.clone());
    if let Some(traceparent) = traceparent.as_deref().and_then(|t| t.parse().ok()) {
        request.metadata_mut().insert("traceparent", traceparent);
    }
    Ok((client, request, deadline))
}

/// A call that got no answer within its deadline: retryable.
pub(crate) fn deadline_passed(deadline: Duration) -> ApiError {
    tracing::warn!(deadline_ms = deadline.as_millis(), "the careflow services did not answer in time");
    ApiError::Unavailable(format!(
        "the careflow services did not answer within {} ms; retry with the same commandId",
        deadline.as_millis()
    ))
}

/// Sends one command with `action`'s check and its deadline; no answer in time is
/// UNAVAILABLE: `send!(ctx, Client, Action, method, message)`.
macro_rules! send {
    ($ctx:expr, $client:ty, $action:expr, $method:ident, $message:expr) => {{
        let (mut client, request, deadline) =
            $crate::schema::command::prepare::<$client, _>($ctx, $action, $message)?;
        match tokio::time::timeout(deadline, client.$method(request)).await {
            Ok(answer) => answer.map_err($crate::error::ApiError::from)?.into_inner(),
            Err(_) => return Err($crate::schema::command::deadline_passed(deadline).into()),
        }
    }};
}
pub(crate) use send;

/// Waits (at most the read-your-writes timeout) for a read model to reach `position`, with
/// `wait(position, timeout)` its own wait. When it does not, says so in the response's
/// `extensions.notYetVisible` and the log; the payload must then not present the model's older
/// state as the command's result.
pub(crate) async fn visible<F: Future<Output = bool>>(
    ctx: &Context<'_>,
    position: u64,
    wait: impl FnOnce(u64, Duration) -> F,
) -> bool {
    let timeout = ctx.data::<ReadYourWrites>().map(|r| r.0).unwrap_or(Duration::from_secs(2));
    let started = Instant::now();
    let visible = wait(position, timeout).await;
    if let Ok(metrics) = ctx.data::<GatewayMetrics>() {
        metrics.observe_read_your_writes(started.elapsed());
    }
    if !visible {
        tracing::warn!(
            position,
            "read model did not catch up in time; answering that the change is not yet visible"
        );
        if let Ok(log) = ctx.data::<NotYetVisible>() {
            log.record(ctx.item.node.response_key().node.as_str(), position);
        }
    }
    visible
}
