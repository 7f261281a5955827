//! A mutation never presents the board's older state as its result: when the read model has not
//! caught up within the wait, the payload and the response's extensions say so.

use careflow_domain::beds::BedStatus;
use serde_json::json;

use crate::support::{Answer, FakeBoard, FakeServices, TestGateway, quick_settings};

const BLOCK: &str = r#"mutation { blockBed(input: {commandId: "0193a0c4-0000-7000-8000-0000000000c1", bedId: "RXT01-W1-B01", reason: MAINTENANCE}) { position visible bed { id status } beds { id } } }"#;

#[tokio::test]
async fn a_change_the_read_model_does_not_show_yet_is_reported_as_not_visible() {
    let services = FakeServices::start().await;
    let board = FakeBoard::new();
    let gateway = TestGateway::start(&services.endpoint, board.clone(), quick_settings()).await;
    // Committed at 42; the board is at 0, its bed still AVAILABLE.
    services.answer(Answer::Ack(42));
    let (status, response) = gateway.graphql(BLOCK, json!({})).await;
    assert_eq!(status, 200, "{response}");
    assert!(response.get("errors").is_none(), "{response}");
    let payload = &response["data"]["blockBed"];
    assert_eq!(payload["position"], "42", "{response}");
    assert_eq!(payload["visible"], false, "{response}");
    assert_eq!(
        payload["bed"],
        serde_json::Value::Null,
        "the stale AVAILABLE bed is not the result: {response}"
    );
    assert_eq!(payload["beds"], json!([]), "{response}");
    let pending = &response["extensions"]["notYetVisible"][0];
    assert_eq!(pending["field"], "blockBed", "{response}");
    assert_eq!(pending["position"], "42", "{response}");

    // Once the board has caught up, the same (retried) command shows its result.
    board.advance(42, BedStatus::Blocked);
    let (_, response) = gateway.graphql(BLOCK, json!({})).await;
    let payload = &response["data"]["blockBed"];
    assert_eq!(payload["visible"], true, "{response}");
    assert_eq!(payload["bed"]["status"], "BLOCKED", "{response}");
    assert!(response.get("extensions").is_none_or(|e| e.get("notYetVisible").is_none()), "{response}");
}
