//! graphql-ws: refusals close with the protocol's codes and reasons that fit a close frame; a
//! subscription ends when its token expires.

use std::net::SocketAddr;
use std::time::Duration;

use careflow_auth::Role;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use crate::support::{FakeBoard, FakeServices, TestGateway, quick_settings, token_for};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(addr: SocketAddr) -> Socket {
    let mut request = format!("ws://{addr}/graphql/ws").into_client_request().unwrap();
    request.headers_mut().insert("sec-websocket-protocol", HeaderValue::from_static("graphql-transport-ws"));
    tokio_tungstenite::connect_async(request).await.expect("websocket").0
}

async fn send(socket: &mut Socket, message: Value) {
    socket.send(Message::text(message.to_string())).await.unwrap();
}

/// The next frame, within 10 s.
async fn next(socket: &mut Socket) -> Option<Message> {
    tokio::time::timeout(Duration::from_secs(10), socket.next())
        .await
        .expect("a frame within 10 s")
        .and_then(Result::ok)
}

/// Reads until the server closes; returns the close code and reason.
async fn close_of(socket: &mut Socket) -> (u16, String) {
    loop {
        match next(socket).await {
            Some(Message::Close(Some(frame))) => return (frame.code.into(), frame.reason.to_string()),
            Some(Message::Close(None)) | None => panic!("closed without a close frame"),
            Some(_) => {}
        }
    }
}

async fn gateway() -> (FakeServices, TestGateway) {
    let services = FakeServices::start().await;
    let gateway = TestGateway::start(&services.endpoint, FakeBoard::new(), quick_settings()).await;
    (services, gateway)
}

#[tokio::test]
async fn refusals_close_with_protocol_codes_and_short_reasons() {
    let (_services, gateway) = gateway().await;
    // A bad signature: the token library's long explanation must not reach the client.
    let valid = token_for(Role::WardNurse, chrono::Duration::hours(1));
    let forged = format!("{}{}", &valid[..valid.len() - 4], "AAAA");
    for token in [forged.as_str(), "not-a-jwt", ""] {
        let mut socket = connect(gateway.addr).await;
        send(
            &mut socket,
            json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
        )
        .await;
        let (code, reason) = close_of(&mut socket).await;
        assert_eq!(code, 4401, "{token:?}: {reason}");
        assert!(reason.len() <= 123, "{reason}");
        assert_eq!(reason, "Unauthorized");
    }
    // A role that may see nothing served live (careflow itself: its workflows read the log).
    let careflow = token_for(Role::Careflow, chrono::Duration::hours(1));
    let mut socket = connect(gateway.addr).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {careflow}")}}),
    )
    .await;
    assert_eq!(close_of(&mut socket).await, (4403, "Forbidden".to_owned()));
    // A care provider sees no bed board but works from an inbox: it may connect.
    let provider = token_for(Role::CareProvider, chrono::Duration::hours(1));
    let mut socket = connect(gateway.addr).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {provider}")}}),
    )
    .await;
    let ack = socket.next().await.expect("a message").expect("not an error");
    assert!(ack.to_text().is_ok_and(|t| t.contains("connection_ack")), "{ack:?}");
    // Subscribing before the handshake.
    let mut socket = connect(gateway.addr).await;
    send(&mut socket, json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { bedBoard(wardId: \"RXT01-W1\") { id } }"}}))
        .await;
    assert_eq!(close_of(&mut socket).await.0, 4401);
    // A malformed message whose parse error is long.
    let mut socket = connect(gateway.addr).await;
    let junk = json!({"type": "x".repeat(300)}).to_string();
    socket.send(Message::text(junk)).await.unwrap();
    let (code, reason) = close_of(&mut socket).await;
    assert_eq!(code, 1002, "{reason}");
    assert!(reason.len() <= 123, "{} bytes: {reason}", reason.len());
}

#[tokio::test]
async fn a_subscription_ends_when_its_token_expires() {
    let (_services, gateway) = gateway().await;
    let token = token_for(Role::WardNurse, chrono::Duration::seconds(2));
    let mut socket = connect(gateway.addr).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}}),
    )
    .await;
    let ack = next(&mut socket).await.expect("an ack");
    assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query": "subscription { bedBoard(wardId: \"RXT01-W1\") { id status } }"}}),
    )
    .await;
    // Nothing changes on the board; the token's expiry ends the subscription.
    let mut seen = Vec::new();
    loop {
        let Some(Message::Text(text)) = next(&mut socket).await else { panic!("socket closed: {seen:?}") };
        let message: Value = serde_json::from_str(&text).unwrap();
        let done = message["type"] == "complete";
        seen.push(message);
        if done {
            break;
        }
    }
    let error = seen.iter().find(|m| m["type"] == "next").expect("an error before complete");
    assert_eq!(error["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED", "{seen:?}");
    assert_eq!(error["payload"]["errors"][0]["message"], "the token has expired", "{seen:?}");
}
