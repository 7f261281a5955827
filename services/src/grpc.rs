//! What every context's gRPC adapter shares: authentication once per call ([`Authenticate`], an
//! interceptor on every careflow service), parsing with every bad field named ([`fields!`](crate::fields) and
//! the parsers here), and the one body of every command RPC ([`rpc`]): authorise, parse, hand to
//! the [`CommandHandler`], reply.

use std::fmt::Display;

use careflow_auth::policy::{self, Action};
use careflow_auth::{Actor, Authenticator};
use careflow_domain::Decider;
use careflow_eventstore::trace;
use chrono::{DateTime, NaiveDate, Utc};
use tonic::service::Interceptor;
use tonic::{Request, Response, Status};
use tracing::Instrument;
use uuid::Uuid;

use crate::handler::{CommandHandler, Effect, Outcome};
use crate::metrics::CommandOutcome;
use crate::{CommandContext, FieldViolation, ServiceError};

/// The authenticated caller of a gRPC call, put in the request's extensions by [`Authenticate`].
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub actor: Actor,
    /// The client's correlation id (`x-correlation-id`), if it sent a valid one.
    pub correlation_id: Option<Uuid>,
    /// The client's W3C `traceparent`, if well formed.
    pub traceparent: Option<String>,
}

/// Checks the bearer token of every call to a careflow service and records the [`Caller`];
/// a call without a valid token is refused UNAUTHENTICATED before it reaches the service.
#[derive(Clone)]
pub struct Authenticate {
    auth: Authenticator,
}

impl Authenticate {
    /// Checks tokens with `auth`.
    pub fn new(auth: Authenticator) -> Self {
        Self { auth }
    }
}

impl Interceptor for Authenticate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let metadata = request.metadata();
        let header = |name: &str| metadata.get(name).and_then(|v| v.to_str().ok());
        let actor = self.auth.verify_header(header("authorization")).map_err(ServiceError::from)?;
        let caller = Caller {
            actor,
            correlation_id: header("x-correlation-id").and_then(|v| Uuid::parse_str(v).ok()),
            traceparent: header("traceparent").filter(|t| trace::is_traceparent(t)).map(str::to_owned),
        };
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// Collects every field violation of a request, so the client hears of all of them at once.
#[derive(Debug, Default)]
pub struct Fields(Vec<FieldViolation>);

impl Fields {
    /// The parsed value, or `None` with the violation recorded under `field`.
    pub fn take<T, E: Display>(&mut self, field: &'static str, parsed: Result<T, E>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(FieldViolation { field: field.into(), description: error.to_string() });
                None
            }
        }
    }

    /// Records a violation of a field named at run time (an answer, by its question).
    pub fn violation(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation { field: field.into(), description: description.into() });
    }

    /// Fails with every violation recorded, if any.
    pub fn finish(self) -> Result<(), ServiceError> {
        if self.0.is_empty() { Ok(()) } else { Err(ServiceError::InvalidArgument(self.0)) }
    }
}

/// Parses every field into a [`Fields`], then binds the parsed values; `None` (with the
/// violations recorded) if any failed:
///
/// ```ignore
/// let (site_id, name) = fields!(f, site_id: "site_id" => SiteId::parse(&r.site_id), name: "name" => Label::parse(&r.name))?;
/// ```
#[macro_export]
macro_rules! fields {
    ($fields:expr, $($name:ident: $field:literal => $parse:expr),+ $(,)?) => {{
        $(let $name = $fields.take($field, $parse);)+
        match ($($name,)+) {
            ($(Some($name),)+) => Some(($($name,)+)),
            #[allow(unreachable_patterns)]
            _ => None,
        }
    }};
}

/// A gRPC request message that is a command of context `D`.
pub trait CommandRequest: Send + 'static {
    /// The context.
    type Decider: Decider;
    /// The client's command id, as sent.
    fn command_id(&self) -> &str;
    /// Parses every field into `fields` (recording each violation), then builds the command;
    /// `None` when any field failed. `context` gives ids derived from the command id.
    fn parse(
        self,
        fields: &mut Fields,
        context: &CommandContext,
    ) -> Option<<Self::Decider as Decider>::Command>;
}

/// The body of every command RPC: the caller's role may take `action` (the policy), every field
/// parses, the handler carries the command out (checking the organisations it touches), and
/// `reply` builds the response from the outcome. The call is a span continuing the caller's
/// trace (its events carry the span's `traceparent`), and is counted in the handler's metrics
/// by outcome and code.
pub async fn rpc<R: CommandRequest, Reply>(
    handler: &CommandHandler<R::Decider>,
    request: Request<R>,
    action: Action,
    reply: impl FnOnce(&CommandContext, Outcome) -> Reply,
) -> Result<Response<Reply>, Status> {
    let context_name = <R::Decider as Decider>::CONTEXT;
    let span = tracing::info_span!("grpc command", otel.kind = "server", context = context_name);
    let started = std::time::Instant::now();
    let caller_trace = request.extensions().get::<Caller>().and_then(|c| c.traceparent.clone());
    trace::continue_trace(&span, caller_trace.as_deref());
    let traceparent = trace::traceparent(&span).or(caller_trace);
    let result = command_rpc(handler, request, action, traceparent).instrument(span).await;
    let (outcome, code) = match &result {
        Ok((_, outcome)) => (
            match outcome.effect {
                Effect::Appended => CommandOutcome::Appended,
                Effect::AlreadyDone => CommandOutcome::AlreadyDone,
                Effect::NothingToDo => CommandOutcome::NothingToDo,
            },
            tonic::Code::Ok,
        ),
        Err(status) => (CommandOutcome::of_code(status.code()), status.code()),
    };
    handler.metrics().command(context_name, outcome, code, started.elapsed());
    let (context, outcome) = result?;
    Ok(Response::new(reply(&context, outcome)))
}

/// [`rpc`] within its span: the command carried out, with the context it ran in.
async fn command_rpc<R: CommandRequest>(
    handler: &CommandHandler<R::Decider>,
    request: Request<R>,
    action: Action,
    traceparent: Option<String>,
) -> Result<(CommandContext, Outcome), Status> {
    let caller = request.extensions().get::<Caller>().cloned().ok_or_else(|| {
        ServiceError::Invariant("a careflow service registered without Authenticate".into())
    })?;
    policy::authorize(&caller.actor, action, policy::Owner::Actor).map_err(ServiceError::from)?;
    let message = request.into_inner();
    let mut fields = Fields::default();
    let command_id = fields.take("command_id", command_id(message.command_id()));
    let context = CommandContext {
        command_id: command_id.unwrap_or_default(),
        correlation_id: caller.correlation_id.or(command_id).unwrap_or_default(),
        actor: caller.actor,
        traceparent,
        at: handler.now(),
    };
    let command = message.parse(&mut fields, &context);
    fields.finish()?;
    let command = command.ok_or_else(|| ServiceError::Invariant("a request parsed to nothing".into()))?;
    let outcome = handler.handle(&context, action, command).await?;
    Ok((context, outcome))
}

/// A client command id: a UUID, required.
pub fn command_id(input: &str) -> Result<Uuid, String> {
    if input.trim().is_empty() {
        return Err("required: a UUID the client generates once per action and reuses on retry".into());
    }
    Uuid::parse_str(input.trim()).map_err(|_| "must be a UUID".to_owned())
}

/// A calendar date, `YYYY-MM-DD`.
pub fn date(input: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(input.trim(), "%Y-%m-%d").map_err(|_| "must be a date, YYYY-MM-DD".to_owned())
}

/// A moment, RFC 3339.
pub fn timestamp(input: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(input.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| "must be a time in RFC 3339, e.g. 2026-12-01T17:00:00Z".to_owned())
}

/// An optional field: empty (or blank) is `None`, anything else must parse.
pub fn optional<T, E>(input: &str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<Option<T>, E> {
    if input.trim().is_empty() { Ok(None) } else { parse(input).map(Some) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_collects_every_violation_and_binds_only_when_all_parse() {
        let mut fields = Fields::default();
        let parsed = fields!(fields,
            a: "a" => "1".parse::<u8>(),
            b: "b" => "x".parse::<u8>(),
            c: "c" => "300".parse::<u8>(),
        );
        assert_eq!(parsed, None);
        let Err(ServiceError::InvalidArgument(violations)) = fields.finish() else { panic!("violations") };
        let named: Vec<&str> = violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(named, ["b", "c"]);

        let mut fields = Fields::default();
        let parsed = fields!(fields, a: "a" => "1".parse::<u8>(), b: "b" => "2".parse::<u8>());
        assert_eq!(parsed, Some((1, 2)));
        assert!(fields.finish().is_ok());
    }
}
