//! What one request may carry: body size, string size, fragments; and the codes of requests
//! refused before execution.

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{FakeBoard, FakeServices, TestGateway, admin, code, quick_settings, violated_fields};

async fn gateway() -> (FakeServices, TestGateway) {
    let services = FakeServices::start().await;
    let gateway = TestGateway::start(&services.endpoint, FakeBoard::new(), quick_settings()).await;
    (services, gateway)
}

/// `n` fragments, each spreading the previous one twice: 2^n fields once expanded.
fn fragment_bomb(n: usize) -> String {
    let mut query = format!("query {{ sites {{ ...F{} }} }}\nfragment F0 on Site {{ id name }}\n", n - 1);
    for i in 1..n {
        query.push_str(&format!("fragment F{i} on Site {{ ...F{p} ...F{p} }}\n", p = i - 1));
    }
    query
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_and_a_json_error() {
    let (services, gateway) = gateway().await;
    let label = "x".repeat(100 * 1024);
    let body = json!({
        "query": "mutation($l: String!) { addBed(input: {bedId: \"B\", wardId: \"W\", label: $l}) { position } }",
        "variables": {"l": label},
    });
    let (status, response) = gateway.post(Some(&admin()), body.to_string()).await;
    assert_eq!(status, 413, "{response}");
    assert_eq!(code(&response), "PAYLOAD_TOO_LARGE", "{response}");
    assert_eq!(services.calls(), 0);
}

#[tokio::test]
async fn a_50_mb_body_is_refused_without_being_read() {
    let (_services, gateway) = gateway().await;
    let mut socket = tokio::net::TcpStream::connect(gateway.addr).await.unwrap();
    let head = format!(
        "POST /graphql HTTP/1.1\r\nhost: careflow\r\nauthorization: Bearer {}\r\ncontent-type: application/json\r\n\
         content-length: {}\r\n\r\n{{\"query\": \"",
        admin(),
        50 * 1024 * 1024
    );
    socket.write_all(head.as_bytes()).await.unwrap();
    // The answer comes before the body is sent: the gateway does not wait for 50 MB.
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("PAYLOAD_TOO_LARGE") {
        let read = socket.read(&mut buffer).await.unwrap();
        assert!(read > 0, "the gateway closed without answering: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buffer[..read]);
    }
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("content-type: application/graphql-response+json"),
        "{answer}"
    );
}

#[tokio::test]
async fn an_oversized_string_is_bad_user_input_naming_the_field() {
    let (services, gateway) = gateway().await;
    let label = "x".repeat(5 * 1024);
    let (status, response) = gateway
        .graphql(
            "mutation($input: AddBedInput!) { addBed(input: $input) { position } }",
            json!({"input": {"bedId": "RXT01-W1-B09", "wardId": "RXT01-W1", "label": label}}),
        )
        .await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(code(&response), "BAD_USER_INPUT", "{response}");
    assert_eq!(violated_fields(&response), ["label"], "{response}");
    // Inline in the document, too.
    let query = format!(
        r#"mutation {{ addBed(input: {{bedId: "B", wardId: "W", label: "{label}"}}) {{ position }} }}"#
    );
    let (_, response) = gateway.graphql(&query, json!({})).await;
    assert_eq!(violated_fields(&response), ["label"], "{response}");
    assert_eq!(services.calls(), 0, "nothing reached the services");
}

#[tokio::test]
async fn fragment_bombs_are_refused_at_once_and_health_keeps_answering() {
    let (_services, gateway) = gateway().await;
    // Without the pre-check, 60 fragments would take 2^35 times as long as 25 (6–8 s): this
    // test would never finish.
    for n in [25, 60] {
        let query = fragment_bomb(n);
        let (status, response) = gateway.graphql(&query, json!({})).await;
        assert_eq!(status, 400, "{response}");
        assert_eq!(code(&response), "GRAPHQL_VALIDATION_FAILED", "{n} fragments: {response}");
    }
    // A wide bomb within the spread depth: 10 fragments each spreading the previous one 4 times.
    let mut wide = String::from("{ sites { ...F9 } } fragment F0 on Site { id }\n");
    for i in 1..10 {
        let p = i - 1;
        wide.push_str(&format!("fragment F{i} on Site {{ ...F{p} ...F{p} ...F{p} ...F{p} }}\n"));
    }
    let (_, response) = gateway.graphql(&wide, json!({})).await;
    assert_eq!(code(&response), "GRAPHQL_VALIDATION_FAILED", "{response}");
    // Several at once, and /healthz still answers.
    let bombs: Vec<_> = (0..4)
        .map(|_| {
            let (addr, query) = (gateway.addr, fragment_bomb(60));
            tokio::spawn(async move {
                let body = json!({"query": query}).to_string();
                reqwest::Client::new()
                    .post(format!("http://{addr}/graphql"))
                    .bearer_auth(admin())
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    assert_eq!(gateway.get("/healthz").await.0, 200);
    for bomb in bombs {
        assert_eq!(bomb.await.unwrap().unwrap(), 400);
    }
    // An ordinary document with fragments still runs.
    let (status, response) =
        gateway.graphql("{ sites { ...S } } fragment S on Site { id name }", json!({})).await;
    assert_eq!(status, 200, "{response}");
    assert_eq!(response["data"]["sites"][0]["id"], "RXT01", "{response}");
}

#[tokio::test]
async fn parse_validation_depth_and_complexity_errors_carry_codes() {
    let (_services, gateway) = gateway().await;
    let refused = |query: String| {
        let gateway = &gateway;
        async move {
            let (status, response) = gateway.graphql(&query, json!({})).await;
            (status, code(&response).to_owned(), response)
        }
    };
    let (status, code_, response) = refused("{ sites { id ".into()).await;
    assert_eq!((status, code_.as_str()), (400, "GRAPHQL_PARSE_FAILED"), "{response}");
    let (status, code_, response) = refused("{ nonsense }".into()).await;
    assert_eq!((status, code_.as_str()), (400, "GRAPHQL_VALIDATION_FAILED"), "{response}");
    // Deeper than the depth limit (12).
    let too_deep = format!(
        "{{ __schema {{ types {{ fields {{ type {{ {}name{} }} }} }} }} }}",
        "ofType { ".repeat(10),
        " }".repeat(10)
    );
    let (status, code_, response) = refused(too_deep).await;
    assert_eq!((status, code_.as_str()), (400, "GRAPHQL_VALIDATION_FAILED"), "{response}");
    let complex: String = (0..1100).map(|i| format!("s{i}: sites {{ id }} ")).collect();
    let (status, code_, response) = refused(format!("{{ {complex} }}")).await;
    assert_eq!((status, code_.as_str()), (400, "GRAPHQL_VALIDATION_FAILED"), "{response}");
    // Nested deeper than the parser can take on a thread's stack (it recursed until the process
    // aborted): refused before parsing, and the server is still up. Just within the limit, the
    // parser copes.
    for levels in [60, 2000] {
        let nested = format!("{{ {}id{} }}", "sites { ".repeat(levels), " }".repeat(levels));
        let (status, code_, response) = refused(nested).await;
        assert_eq!(status, 400, "{response}");
        assert!(code_.starts_with("GRAPHQL_"), "{response}");
        let list = format!("{{ ward(id: {}1{}) {{ id }} }}", "[".repeat(levels), "]".repeat(levels));
        let (status, code_, response) = refused(list).await;
        assert_eq!(status, 400, "{response}");
        assert!(code_.starts_with("GRAPHQL_"), "{response}");
    }
    assert_eq!(gateway.get("/healthz").await.0, 200);
    // Operation names the document does not define.
    let body = json!({"query": "query A { sites { id } }", "operationName": "B"}).to_string();
    let (_, response) = gateway.post(Some(&admin()), body).await;
    assert_eq!(code(&response), "GRAPHQL_VALIDATION_FAILED", "{response}");
}

#[tokio::test]
async fn malformed_json_gets_a_json_error_with_a_code() {
    let (_services, gateway) = gateway().await;
    for body in ["{\"query\": ", "not json", "{\"query\": 42}", "[{\"query\": \"{ sites { id } }\"}]"] {
        let (status, response) = gateway.post(Some(&admin()), body).await;
        assert_eq!(status, 400, "{body}: {response}");
        assert_eq!(code(&response), "BAD_REQUEST", "{body}: {response}");
        let message = response["errors"][0]["message"].as_str().unwrap();
        assert!(!message.contains("ParseRequestError"), "{message}");
    }
    let (status, response): (u16, Value) = gateway.post(None, "{}").await;
    assert_eq!((status, code(&response)), (401, "UNAUTHENTICATED"), "{response}");
    // No query at all: nothing to parse.
    let (status, response) = gateway.post(Some(&admin()), "{\"variables\": {}}").await;
    assert_eq!((status, code(&response)), (400, "GRAPHQL_PARSE_FAILED"), "{response}");
}
