//! One mutation's trace, end to end: careflow exports spans over OTLP to a collector in this
//! test, and the client's W3C trace is continued by the gateway's request span, the gRPC
//! command's span (whose context the event's metadata carries), the projection batch that
//! applied the event, and the subscription push it caused — each the child of the one before.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use serde_json::json;
use tokio::net::TcpListener;

use crate::helpers::flow::configure;
use crate::helpers::{Careflow, token};

/// A span as the collector received it.
#[derive(Debug, Clone)]
struct Received {
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
}

/// An OTLP/gRPC trace collector keeping every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            for scope in resource.scope_spans {
                for span in scope.spans {
                    spans.push(Received {
                        name: span.name,
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_span_id: hex(&span.parent_span_id),
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

#[tokio::test]
async fn a_mutation_is_one_trace_from_the_request_to_the_push() {
    let collector = Collector::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(collector.clone()))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(server);

    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().to_str().unwrap();
    // Spans are exported every 50 ms rather than every 5 s.
    let app = Careflow::spawn_env(
        &["--data-dir", data_dir, "--otlp-endpoint", &endpoint],
        &[("OTEL_BSP_SCHEDULE_DELAY", "50")],
    );
    let (admin, nurse) = (token("admin"), token("ward_nurse"));
    configure(&app, &admin).await;
    let mut pushes =
        app.subscribe(&nurse, r#"subscription { bedBoard(wardId: "RXT01-W1") { id status } }"#).await;

    let (trace_id, client_span) = ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7");
    let response: serde_json::Value = reqwest::Client::new()
        .post(format!("http://{}/graphql", app.http()))
        .bearer_auth(&nurse)
        .header("traceparent", format!("00-{trace_id}-{client_span}-01"))
        .json(&json!({"query": r#"mutation { blockBed(input: {bedId: "RXT01-W1-B02", reason: INFECTION_CONTROL}) { bed { status } } }"#}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["data"]["blockBed"]["bed"]["status"], "BLOCKED", "{response}");
    let pushed = pushes.next_data().await;
    assert_eq!(pushed["bedBoard"]["status"], "BLOCKED");

    // Each step is a child of the one before: the request of the client's span, the command of
    // the request, the batch of the command (through the event's metadata), the push of the
    // batch.
    let chain = ["graphql request", "grpc command", "projection batch", "subscription push"];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let spans: Vec<Received> =
            collector.spans.lock().unwrap().iter().filter(|s| s.trace_id == trace_id).cloned().collect();
        let mut parent = client_span.to_owned();
        let mut missing = None;
        for step in chain {
            match spans.iter().find(|s| s.name == step && s.parent_span_id == parent) {
                Some(span) => parent = span.span_id.clone(),
                None => {
                    missing = Some(step);
                    break;
                }
            }
        }
        let Some(missing) = missing else { break };
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {missing:?} span in the trace continuing the one before within 20 s; received: {spans:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Spans of other requests are traces of their own.
    let spans = collector.spans.lock().unwrap();
    assert!(spans.iter().any(|s| s.name == "graphql request" && s.trace_id != trace_id));
}
