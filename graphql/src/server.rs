//! The HTTP server: `/graphql` (POST), `/graphql/ws` (graphql-transport-ws and graphql-ws),
//! `/graphiql` when enabled, `/healthz`, `/readyz`, `/metrics`.
//!
//! `/graphql` reads at most the configured body size (413 beyond it) and parses the JSON itself,
//! so every refusal is a GraphQL error body with an `extensions.code`. Each operation runs in a
//! task of its own, so one slow request never holds the connection task of another.
//! graphql-ws refusals close with the protocol's codes (4401 unauthenticated, 4403 forbidden)
//! and short reasons.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql::{Data, ErrorExtensions, ServerError};
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message};
use axum::extract::{DefaultBodyLimit, FromRequest, Request, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use careflow_auth::policy::{self, Action};
use careflow_auth::{Authenticator, Role};
use chrono::{DateTime, Utc};
use futures::{SinkExt, StreamExt};
use tracing::Instrument;

use crate::error::ApiError;
use crate::guard::code_of;
use crate::metrics::GatewayMetrics;
use crate::ops::{self, OpsState};
use crate::schema::{Caller, CareflowSchema};

/// graphql-transport-ws: the connection is not authenticated.
const CLOSE_UNAUTHORIZED: u16 = 4401;
/// graphql-transport-ws: the caller may not use this connection.
const CLOSE_FORBIDDEN: u16 = 4403;
/// RFC 6455 §5.5: a control frame's payload is at most 125 bytes, 2 of them the close code.
const MAX_CLOSE_REASON_BYTES: usize = 123;

/// What every GraphQL handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub schema: CareflowSchema,
    pub auth: Authenticator,
    pub metrics: GatewayMetrics,
    /// Largest request body and WebSocket message accepted.
    pub max_body_bytes: usize,
}

/// The router: GraphQL and the ops endpoints.
pub(crate) fn router(state: AppState, ops: OpsState, graphiql: bool) -> Router {
    let limit = DefaultBodyLimit::max(state.max_body_bytes);
    let mut router =
        Router::new().route("/graphql", axum::routing::post(graphql)).route("/graphql/ws", get(graphql_ws));
    if graphiql {
        router = router.route("/graphiql", get(graphiql_page));
    }
    router.with_state(state).merge(ops::routes(ops)).layer(limit)
}

/// The expiry of a token that `auth` has just verified.
fn expiry(token: &str) -> Result<DateTime<Utc>, ApiError> {
    #[derive(serde::Deserialize)]
    struct Expiry {
        exp: i64,
    }
    // The signature, issuer, audience and expiry were checked by `verify_header`; only `exp`
    // is read again here.
    let claims = jsonwebtoken::dangerous::insecure_decode_claims::<Expiry>(token)
        .map_err(|_| ApiError::Unauthenticated("invalid token".into()))?;
    DateTime::from_timestamp(claims.exp, 0).ok_or_else(|| ApiError::Unauthenticated("invalid token".into()))
}

fn caller(
    auth: &Authenticator,
    authorization: Option<&str>,
    traceparent: Option<&str>,
) -> Result<Caller, ApiError> {
    let actor = auth.verify_header(authorization)?;
    let token = authorization
        .and_then(|h| h.split_once(' '))
        .map(|(_, token)| token.trim().to_owned())
        .ok_or_else(|| ApiError::Unauthenticated("missing bearer token".into()))?;
    let expires_at = expiry(&token)?;
    Ok(Caller { actor, token, traceparent: traceparent.map(str::to_owned), expires_at })
}

/// The first keyword of the operation, for metrics.
fn operation_kind(query: &str) -> &'static str {
    let trimmed = query.trim_start();
    if trimmed.starts_with("mutation") {
        "mutation"
    } else if trimmed.starts_with("subscription") {
        "subscription"
    } else {
        "query"
    }
}

/// A GraphQL error body for a request refused before execution.
fn refuse(status: StatusCode, error: ApiError) -> Response {
    let mut server = ServerError::new(error.to_string(), None);
    server.extensions = error.extend().extensions;
    (status, GraphQLResponse::from(async_graphql::Response::from_errors(vec![server]))).into_response()
}

/// The GraphQL request in `body`, or why it is not one.
fn parse_body(body: &[u8]) -> Result<async_graphql::Request, ApiError> {
    if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(ApiError::BadRequest("batched requests are not supported".into()));
    }
    serde_json::from_slice(body).map_err(|e| {
        let message = match e.classify() {
            serde_json::error::Category::Data => format!("the body is not a GraphQL request: {e}"),
            serde_json::error::Category::Syntax
            | serde_json::error::Category::Eof
            | serde_json::error::Category::Io => {
                format!("the body is not valid JSON (line {}, column {})", e.line(), e.column())
            }
        };
        ApiError::BadRequest(message)
    })
}

/// 400 for a document refused before execution (as Apollo servers answer), 200 otherwise.
fn status_of(response: &async_graphql::Response) -> StatusCode {
    let refused = response.data == async_graphql::Value::Null
        && response
            .errors
            .iter()
            .any(|e| matches!(code_of(e), Some("GRAPHQL_PARSE_FAILED" | "GRAPHQL_VALIDATION_FAILED")));
    if refused { StatusCode::BAD_REQUEST } else { StatusCode::OK }
}

/// A declared body length over `max`.
fn declared_too_large(headers: &HeaderMap, max: usize) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|length| length > max as u64)
}

fn too_large(max: usize) -> Response {
    let message = format!("the request body is larger than {max} bytes");
    refuse(StatusCode::PAYLOAD_TOO_LARGE, ApiError::PayloadTooLarge(message))
}

async fn graphql(State(state): State<AppState>, request: Request) -> Response {
    // Refused before a byte of the body is read when its declared length is too large; else the
    // body is read up to the limit (`DefaultBodyLimit`).
    if declared_too_large(request.headers(), state.max_body_bytes) {
        return too_large(state.max_body_bytes);
    }
    let headers = request.headers();
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let traceparent = headers
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .filter(|t| careflow_eventstore::trace::is_traceparent(t))
        .map(str::to_owned);
    let caller = match caller(&state.auth, authorization, traceparent.as_deref()) {
        Ok(caller) => caller,
        Err(error) => return refuse(StatusCode::UNAUTHORIZED, error),
    };
    let body = match Bytes::from_request(request, &state).await {
        Ok(body) => body,
        Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return too_large(state.max_body_bytes);
        }
        Err(rejection) => {
            tracing::debug!(error = %rejection, "unreadable request body");
            let error = ApiError::BadRequest("the request body could not be read".into());
            return refuse(StatusCode::BAD_REQUEST, error);
        }
    };
    let request = match parse_body(&body) {
        Ok(request) => request.data(caller),
        Err(error) => return refuse(StatusCode::BAD_REQUEST, error),
    };
    let kind = operation_kind(&request.query);
    let started = Instant::now();
    let schema = state.schema.clone();
    // The request's span continues the client's trace (or starts one); the services' calls
    // continue this span.
    let span = tracing::info_span!("graphql request", otel.kind = "server", operation = kind);
    careflow_eventstore::trace::continue_trace(&span, traceparent.as_deref());
    let response = match tokio::spawn(async move { schema.execute(request).await }.instrument(span)).await {
        Ok(response) => response,
        Err(join) => return refuse(StatusCode::INTERNAL_SERVER_ERROR, ApiError::internal(&join)),
    };
    state.metrics.observe_request(kind, response.errors.is_empty(), started.elapsed());
    (status_of(&response), GraphQLResponse::from(response)).into_response()
}

/// Why a graphql-ws connection was refused, for its close frame.
type Refusal = Arc<Mutex<Option<(u16, &'static str)>>>;

/// The close frame actually sent: the recorded refusal, the protocol's 4401 for a subscribe
/// before the handshake, and never a reason longer than RFC 6455 allows.
fn close_frame(frame: CloseFrame, refusal: &Refusal) -> CloseFrame {
    if let Some((code, reason)) = refusal.lock().ok().and_then(|mut r| r.take()) {
        return CloseFrame { code, reason: reason.into() };
    }
    if frame.code == 1011 && frame.reason.as_str().contains("handshake") {
        return CloseFrame { code: CLOSE_UNAUTHORIZED, reason: "Unauthorized".into() };
    }
    let mut end = frame.reason.len().min(MAX_CLOSE_REASON_BYTES);
    while !frame.reason.as_str().is_char_boundary(end) {
        end -= 1;
    }
    CloseFrame { code: frame.code, reason: frame.reason.as_str()[..end].into() }
}

/// Authenticates a graphql-ws `connection_init`; on refusal, records the close code.
fn authenticate(
    auth: &Authenticator,
    payload: &serde_json::Value,
    refusal: &Refusal,
) -> async_graphql::Result<Data> {
    let header = ["Authorization", "authorization"]
        .iter()
        .find_map(|key| payload.get(*key).and_then(|v| v.as_str()).map(str::to_owned))
        .or_else(|| payload.get("token").and_then(|v| v.as_str()).map(|t| format!("Bearer {t}")));
    let refused = |code: u16, reason: &'static str, error: ApiError| {
        if let Ok(mut slot) = refusal.lock() {
            *slot = Some((code, reason));
        }
        error.extend()
    };
    let caller = caller(auth, header.as_deref(), None)
        .map_err(|error| refused(CLOSE_UNAUTHORIZED, "Unauthorized", error))?;
    if !may_subscribe(caller.actor.role) {
        let error = ApiError::Forbidden(format!("role {} may not subscribe", caller.actor.role));
        return Err(refused(CLOSE_FORBIDDEN, "Forbidden", error));
    }
    let mut data = Data::default();
    data.insert(caller);
    Ok(data)
}

/// Whether `role` may see anything served over subscriptions (the bed board, patient records,
/// team inboxes and their own tasks).
fn may_subscribe(role: Role) -> bool {
    [Action::ViewBeds, Action::ViewPatients, Action::ViewTasks]
        .into_iter()
        .any(|action| policy::role_allows(role, action))
}

async fn graphql_ws(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(state.max_body_bytes)
        .max_frame_size(state.max_body_bytes)
        .on_upgrade(move |socket| {
            let auth = state.auth.clone();
            let refusal = Refusal::default();
            let (sink, stream) = socket.split();
            let sink = {
                let refusal = refusal.clone();
                sink.with(move |message: Message| {
                    let message = match message {
                        Message::Close(Some(frame)) => Message::Close(Some(close_frame(frame, &refusal))),
                        other => other,
                    };
                    futures::future::ready(Ok::<_, axum::Error>(message))
                })
            };
            GraphQLWebSocket::new_with_pair(sink, stream, state.schema.clone(), protocol)
                .on_connection_init(move |payload| async move { authenticate(&auth, &payload, &refusal) })
                .serve()
        })
        .into_response()
}

async fn graphiql_page() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql/ws").finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reasons_fit_a_control_frame() {
        let refusal = Refusal::default();
        let long = CloseFrame { code: 1002, reason: "é".repeat(200).into() };
        let frame = close_frame(long, &refusal);
        assert!(frame.reason.len() <= MAX_CLOSE_REASON_BYTES);
        assert_eq!(frame.code, 1002);
        let early = CloseFrame { code: 1011, reason: "The handshake is not completed.".into() };
        assert_eq!(close_frame(early, &refusal).code, CLOSE_UNAUTHORIZED);
        *refusal.lock().unwrap() = Some((CLOSE_FORBIDDEN, "Forbidden"));
        let frame = close_frame(
            CloseFrame { code: 1002, reason: "invalid token: InvalidSignature".into() },
            &refusal,
        );
        assert_eq!((frame.code, frame.reason.as_str()), (CLOSE_FORBIDDEN, "Forbidden"));
    }

    #[test]
    fn malformed_bodies_are_bad_requests_with_a_readable_message() {
        let error = parse_body(b"{\"query\": ").unwrap_err();
        assert_eq!(error.code(), "BAD_REQUEST");
        assert!(error.to_string().starts_with("the body is not valid JSON"), "{error}");
        let error = parse_body(b"{\"query\": 42}").unwrap_err();
        assert!(error.to_string().starts_with("the body is not a GraphQL request: invalid type"), "{error}");
        assert!(parse_body(b"[{\"query\": \"{ sites { id } }\"}]").is_err());
        assert!(parse_body(b"{\"query\": \"{ sites { id } }\"}").is_ok());
    }
}
