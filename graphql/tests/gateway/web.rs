//! The web app's routes: the page and its files with their security headers, and the
//! development sign-in, which exists only when the gateway is given it.

use careflow_auth::Role;
use careflow_gateway::{DevSignIn, Persona};
use serde_json::{Value, json};

use crate::support::{FakeBoard, FakeServices, TestGateway, authenticator, quick_settings};

fn nurse() -> Persona {
    Persona {
        user_id: "1.rxt01-w1-team".into(),
        name: "Ivy Testwood".into(),
        description: "Ward nurse".into(),
        role: Role::WardNurse,
        organisation: "RXT".into(),
        teams: vec!["RXT01-W1-TEAM".into()],
    }
}

async fn gateway(dev: bool) -> (FakeServices, TestGateway) {
    let services = FakeServices::start().await;
    let dev = dev.then(|| DevSignIn { personas: vec![nurse()], auth: authenticator() });
    let gateway = TestGateway::start_with(&services.endpoint, FakeBoard::new(), quick_settings(), dev).await;
    (services, gateway)
}

async fn post_token(gateway: &TestGateway, body: &str) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("http://{}/dev/token", gateway.addr))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("POST /dev/token");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_page_and_its_modules_are_served_with_a_strict_content_security_policy() {
    let (_services, gateway) = gateway(false).await;
    let client = reqwest::Client::new();
    let page = client.get(format!("http://{}/", gateway.addr)).send().await.expect("GET /");
    assert_eq!(page.status(), 200);
    let headers = page.headers().clone();
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let policy = headers["content-security-policy"].to_str().expect("ascii");
    assert!(policy.contains("script-src 'self' 'sha256-"), "{policy}");
    assert!(policy.contains("frame-ancestors 'none'") && !policy.contains("unsafe"), "{policy}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(page.text().await.expect("body").contains("/assets/app/main.js"));

    let module = client.get(format!("http://{}/assets/app/main.js", gateway.addr)).send().await.expect("GET");
    assert_eq!(module.status(), 200);
    assert_eq!(module.headers()["content-type"], "text/javascript; charset=utf-8");
    let etag = module.headers()["etag"].clone();
    let again = client
        .get(format!("http://{}/assets/app/main.js", gateway.addr))
        .header("if-none-match", etag)
        .send()
        .await
        .expect("GET");
    assert_eq!(again.status(), 304, "an unchanged file is not sent again");

    for missing in
        ["/assets/app/nothing.js", "/assets/../Cargo.toml", "/assets/index.html", "/assets/%2e%2e/x"]
    {
        assert_eq!(gateway.get(missing).await.0, 404, "{missing}");
    }
}

#[tokio::test]
async fn without_the_development_secret_there_is_no_development_sign_in() {
    let (_services, gateway) = gateway(false).await;
    assert_eq!(gateway.get("/dev/personas").await.0, 404);
    assert_eq!(post_token(&gateway, r#"{"persona": "1.rxt01-w1-team"}"#).await.0, 404);
}

#[tokio::test]
async fn a_demo_person_gets_a_token_that_the_api_accepts() {
    let (_services, gateway) = gateway(true).await;
    let (status, body) = gateway.get("/dev/personas").await;
    assert_eq!(status, 200);
    let personas: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(personas[0]["userId"], "1.rxt01-w1-team");
    assert_eq!(personas[0]["role"], "ward_nurse");

    let (status, body) = post_token(&gateway, r#"{"persona": "1.rxt01-w1-team"}"#).await;
    assert_eq!(status, 200, "{body}");
    let token = body["token"].as_str().expect("a token");
    let actor = authenticator().verify(token).expect("signed with the gateway's secret");
    assert_eq!(
        (actor.user_id.as_str(), actor.role, actor.teams.as_slice()),
        ("1.rxt01-w1-team", Role::WardNurse, &["RXT01-W1-TEAM".to_owned()][..])
    );
    let body = json!({"query": "{ sites { id } }"}).to_string();
    let (status, response) = gateway.post(Some(token), body).await;
    assert_eq!(status, 200, "{response}");
    assert!(response.get("errors").is_none(), "{response}");
}

#[tokio::test]
async fn the_development_sign_in_refuses_what_is_not_a_demo_person() {
    let (_services, gateway) = gateway(true).await;
    let (status, body) = post_token(&gateway, r#"{"persona": "someone.else"}"#).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("NOT_FOUND")));
    for bad in ["", "{", r#"{"persona": 7}"#, r#"{"user": "1.rxt01-w1-team"}"#, "[]"] {
        let (status, body) = post_token(&gateway, bad).await;
        assert_eq!((status, body["code"].as_str()), (400, Some("BAD_USER_INPUT")), "{bad:?}");
    }
    let response = reqwest::Client::new()
        .post(format!("http://{}/dev/token", gateway.addr))
        .header("content-type", "text/plain")
        .body(r#"{"persona": "1.rxt01-w1-team"}"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 415, "a form or text body (a cross-site 'simple' request) is refused");
    let response = reqwest::Client::new()
        .post(format!("http://{}/dev/token", gateway.addr))
        .header("content-type", "application/json")
        .header("origin", "http://evil.example")
        .body(r#"{"persona": "1.rxt01-w1-team"}"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(response.status(), 403, "another site's page gets no token");
    let same = reqwest::Client::new()
        .post(format!("http://{}/dev/token", gateway.addr))
        .header("content-type", "application/json; charset=utf-8")
        .header("origin", format!("http://{}", gateway.addr))
        .body(r#"{"persona": "1.rxt01-w1-team"}"#)
        .send()
        .await
        .expect("POST");
    assert_eq!(same.status(), 200, "careflow's own page does");
    let huge = format!(r#"{{"persona": "{}"}}"#, "x".repeat(64 * 1024));
    let (status, _) = post_token(&gateway, &huge).await;
    assert_eq!(status, 413);
}
