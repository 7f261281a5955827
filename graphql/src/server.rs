//! The HTTP server: `/graphql` (POST), `/graphql/ws` (graphql-transport-ws and graphql-ws),
//! `/graphiql` when enabled, `/healthz`, `/readyz`, `/metrics`.

use std::time::Instant;

use async_graphql::http::{ALL_WEBSOCKET_PROTOCOLS, GraphiQLSource};
use async_graphql::{Data, ErrorExtensions};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::{DefaultBodyLimit, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use careflow_auth::Authenticator;

use crate::error::ApiError;
use crate::metrics::GatewayMetrics;
use crate::ops::{self, OpsState};
use crate::schema::{Caller, CareflowSchema};

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// What every GraphQL handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    pub schema: CareflowSchema,
    pub auth: Authenticator,
    pub metrics: GatewayMetrics,
}

/// The router: GraphQL and the ops endpoints.
pub(crate) fn router(state: AppState, ops: OpsState, graphiql: bool) -> Router {
    let mut router =
        Router::new().route("/graphql", axum::routing::post(graphql)).route("/graphql/ws", get(graphql_ws));
    if graphiql {
        router = router.route("/graphiql", get(graphiql_page));
    }
    router.with_state(state).merge(ops::routes(ops)).layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
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
    Ok(Caller { actor, token, traceparent: traceparent.map(str::to_owned) })
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

async fn graphql(State(state): State<AppState>, headers: HeaderMap, request: GraphQLRequest) -> Response {
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let traceparent = headers.get("traceparent").and_then(|v| v.to_str().ok());
    let caller = match caller(&state.auth, authorization, traceparent) {
        Ok(caller) => caller,
        Err(error) => {
            let response = async_graphql::Response::from_errors(vec![
                error.extend().into_server_error(Default::default()),
            ]);
            return (StatusCode::UNAUTHORIZED, GraphQLResponse::from(response)).into_response();
        }
    };
    let request = request.into_inner().data(caller);
    let kind = operation_kind(&request.query);
    let started = Instant::now();
    let response = state.schema.execute(request).await;
    state.metrics.observe_request(kind, response.errors.is_empty(), started.elapsed());
    GraphQLResponse::from(response).into_response()
}

async fn graphql_ws(
    State(state): State<AppState>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |stream| {
            let auth = state.auth.clone();
            GraphQLWebSocket::new(stream, state.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let header = ["Authorization", "authorization"]
                        .iter()
                        .find_map(|key| payload.get(*key).and_then(|v| v.as_str()).map(str::to_owned))
                        .or_else(|| {
                            payload.get("token").and_then(|v| v.as_str()).map(|t| format!("Bearer {t}"))
                        });
                    let caller = caller(&auth, header.as_deref(), None).map_err(|e| e.extend())?;
                    let mut data = Data::default();
                    data.insert(caller);
                    Ok(data)
                })
                .serve()
        })
        .into_response()
}

async fn graphiql_page() -> Html<String> {
    Html(GraphiQLSource::build().endpoint("/graphql").subscription_endpoint("/graphql/ws").finish())
}
