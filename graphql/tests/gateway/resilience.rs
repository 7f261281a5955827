//! Deadlines, readiness and transient failures: a frozen or dying services process and a read
//! model outage are UNAVAILABLE (retry with the same command id); an error the services send
//! stays what it is.

use serde_json::json;

use crate::support::{
    Answer, FakeBoard, FakeServices, TestGateway, black_hole, code, dies_mid_call, quick_settings,
};

const BLOCK: &str = r#"mutation { blockBed(input: {commandId: "0193a0c4-0000-7000-8000-0000000000b1", bedId: "RXT01-W1-B01", reason: STAFFING}) { position visible } }"#;

#[tokio::test]
async fn a_frozen_services_process_is_unavailable_within_the_deadline_and_not_ready() {
    let endpoint = black_hole().await;
    let gateway = TestGateway::start(&endpoint, FakeBoard::new(), quick_settings()).await;
    // The deadline (500 ms) ends the call; without it this would wait forever.
    let (status, response) = gateway.graphql(BLOCK, json!({})).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(code(&response), "UNAVAILABLE", "{response}");
    assert!(response["errors"][0]["message"].as_str().unwrap().contains("retry"), "{response}");
    gateway.wait_for_status("/readyz", 503).await;
    assert_eq!(gateway.get("/healthz").await.0, 200, "alive, just not ready");
}

#[tokio::test]
async fn readiness_follows_the_services_health() {
    let services = FakeServices::start().await;
    let gateway = TestGateway::start(&services.endpoint, FakeBoard::new(), quick_settings()).await;
    gateway.wait_for_status("/readyz", 200).await;
    drop(services);
    gateway.wait_for_status("/readyz", 503).await;
    let (_, response) = gateway.graphql(BLOCK, json!({})).await;
    assert_eq!(code(&response), "UNAVAILABLE", "{response}");
}

#[tokio::test]
async fn a_services_process_dying_mid_call_is_unavailable() {
    let endpoint = dies_mid_call().await;
    let gateway = TestGateway::start(&endpoint, FakeBoard::new(), quick_settings()).await;
    let (_, response) = gateway.graphql(BLOCK, json!({})).await;
    assert_eq!(code(&response), "UNAVAILABLE", "{response}");
}

#[tokio::test]
async fn errors_the_services_send_keep_their_meaning() {
    let services = FakeServices::start().await;
    let gateway = TestGateway::start(&services.endpoint, FakeBoard::new(), quick_settings()).await;
    let cases = [
        (tonic::Code::Internal, "INTERNAL"),
        (tonic::Code::Unavailable, "UNAVAILABLE"),
        (tonic::Code::ResourceExhausted, "UNAVAILABLE"),
        (tonic::Code::DeadlineExceeded, "UNAVAILABLE"),
        (tonic::Code::OutOfRange, "BAD_USER_INPUT"),
        (tonic::Code::FailedPrecondition, "CONFLICT"),
    ];
    for (grpc, expected) in cases {
        services.answer(Answer::Fail(grpc, "the database password is hunter2"));
        let (_, response) = gateway.graphql(BLOCK, json!({})).await;
        assert_eq!(code(&response), expected, "{grpc:?}: {response}");
        if expected != "CONFLICT" {
            assert!(!response.to_string().contains("hunter2"), "{grpc:?} leaks: {response}");
        }
    }
}

#[tokio::test]
async fn a_read_model_outage_is_unavailable() {
    let services = FakeServices::start().await;
    let board = FakeBoard::new();
    let gateway = TestGateway::start(&services.endpoint, board.clone(), quick_settings()).await;
    board.set_down(true);
    let (_, response) = gateway.graphql(r#"{ bedBoard(wardId: "RXT01-W1") { id } }"#, json!({})).await;
    assert_eq!(code(&response), "UNAVAILABLE", "{response}");
    assert!(!response.to_string().contains("os error"), "{response}");
    board.set_down(false);
    let (_, response) = gateway.graphql(r#"{ bedBoard(wardId: "RXT01-W1") { id } }"#, json!({})).await;
    assert_eq!(response["data"]["bedBoard"][0]["id"], "RXT01-W1-B01", "{response}");
}
