//! One role per process, black box: `careflow migrate`, then services, projections and two
//! gateway replicas as four real processes on PostgreSQL and Redis. The bed flow runs end to end
//! over GraphQL with read-your-writes and subscription pushes, and a change made through one
//! gateway is pushed by the other. Every process answers health, readiness and metrics.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod helpers;

use helpers::flow::{self, BOARD, configure};
use helpers::servers::{Cleanup, postgres_url, redis_url};
use helpers::{Careflow, token};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_projections_and_gateways_in_separate_processes() {
    let (Some(database), Some(redis)) = (postgres_url().await, redis_url().await) else { return };
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (schema, prefix) = (format!("e2e_{id}"), format!("careflow-e2e-{id}:"));
    let _cleanup = Cleanup {
        postgres: Some((database.clone(), schema.clone())),
        redis: Some((redis.clone(), prefix.clone())),
    };

    let migrated = Careflow::run(&["migrate", "--database-url", &database, "--database-schema", &schema]);
    assert!(migrated.contains("applied 1"), "{migrated}");

    let store = ["--store", "postgres", "--database-url", &database, "--database-schema", &schema];
    let read_models = ["--read-models", "redis", "--redis-url", &redis, "--redis-prefix", &prefix];
    let services = Careflow::spawn(&[&["--only", "services"], &store[..]].concat());
    let projections = Careflow::spawn(&[&["--only", "projections"], &store[..], &read_models[..]].concat());
    let services_url = format!("http://{}", services.grpc());
    let gateway_args = [&["--only", "gateway", "--services-url", &services_url], &read_models[..]].concat();
    let (gateway, replica) = (Careflow::spawn(&gateway_args), Careflow::spawn(&gateway_args));

    let (admin, nurse) = (token("admin"), token("ward_nurse"));
    configure(&gateway, &admin).await;
    flow::admit_discharge_clean(&gateway, &nurse).await;

    // The replica pushes a change made through the first gateway.
    let mut pushes = replica
        .subscribe(&nurse, r#"subscription { bedBoard(wardId: "RXT01-W1") { id status blockedReason } }"#)
        .await;
    let blocked = gateway
        .data(
            &nurse,
            r#"mutation { blockBed(input: {bedId: "RXT01-W1-B02", reason: INFECTION_CONTROL}) { bed { status } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(blocked["blockBed"]["bed"]["status"], "BLOCKED", "read-your-writes across processes");
    let push = pushes.next_data().await;
    assert_eq!(push["bedBoard"]["id"], "RXT01-W1-B02");
    assert_eq!(push["bedBoard"]["status"], "BLOCKED");
    assert_eq!(push["bedBoard"]["blockedReason"], "INFECTION_CONTROL");

    // Both gateways serve the same board.
    let board = gateway.data(&nurse, BOARD, json!({"ward": "RXT01-W1"})).await;
    assert_eq!(replica.data(&nurse, BOARD, json!({"ward": "RXT01-W1"})).await, board);
    let statuses: Vec<&str> =
        board["bedBoard"].as_array().unwrap().iter().map(|b| b["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["AVAILABLE", "BLOCKED"]);

    // Patients across processes: registered and flagged through one gateway (read-your-writes
    // on the Redis patient summaries), followed live and read through the other.
    let clerk = token("ward_clerk");
    let registered = gateway
        .data(
            &clerk,
            r#"mutation { registerPatient(input: {nhsNumber: "9990000034", givenName: "Hephzibah", familyName: "Wolstenholme",
                dateOfBirth: "1942-08-30", gender: FEMALE, postcode: "HX3 5AX"}) { visible patient { familyName } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(registered["registerPatient"]["patient"]["familyName"], "Wolstenholme", "{registered}");
    let mut live = replica
        .subscribe(&nurse, r#"subscription { patientSummary(nhsNumber: "9990000034") { activeFlagKinds } }"#)
        .await;
    assert_eq!(live.next_data().await["patientSummary"]["activeFlagKinds"], json!([]));
    let raised = gateway
        .data(
            &nurse,
            r#"mutation { raiseFlag(input: {nhsNumber: "9990000034", kind: END_OF_LIFE_CARE_PLAN, severity: HIGH,
                reason: "Plan agreed with family"}) { visible } }"#,
            json!({}),
        )
        .await;
    assert_eq!(raised["raiseFlag"]["visible"], true);
    assert_eq!(live.next_data().await["patientSummary"]["activeFlagKinds"], json!(["END_OF_LIFE_CARE_PLAN"]));
    let found =
        replica.data(&nurse, r#"{ searchPatients(postcode: "HX3 5AX") { nhsNumber } }"#, json!({})).await;
    assert_eq!(found["searchPatients"], json!([{"nhsNumber": "9990000034"}]));

    // Every role can be probed and scraped, gateway or not.
    for process in [&services, &projections, &gateway] {
        assert_eq!(process.get("/readyz").await, (200, "ready".to_owned()));
    }
    let (status, metrics) = projections.get("/metrics").await;
    assert_eq!(status, 200);
    let head = metric(&metrics, "careflow_event_store_head_position");
    assert!(head > 0.0, "{metrics}");
    assert!(metrics.contains("careflow_read_model_checkpoint_position{model=\"bed_board\"}"), "{metrics}");
}

/// The value of an unlabelled metric in OpenMetrics text.
fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name).and_then(|rest| rest.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[test]
fn split_roles_refuse_configurations_that_cannot_work() {
    for (args, complaint) in [
        (&["--only", "services"][..], "--store postgres"),
        (&["--only", "gateway"][..], "--services-url"),
        (&["--only", "gateway", "--services-url", "http://127.0.0.1:1"][..], "--read-models redis"),
    ] {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_careflow"))
            .args(["serve", "--log", "warn"])
            .args(args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} started");
        assert!(stderr.contains(complaint), "{args:?}: {stderr}");
    }
}

#[test]
fn the_development_jwt_secret_is_refused_on_postgres_and_with_split_roles() {
    let unreachable = ["--database-url", "postgres://postgres@127.0.0.1:1/none"];
    let gateway = ["--only", "gateway", "--services-url", "http://127.0.0.1:1"];
    let redis = ["--read-models", "redis", "--redis-url", "redis://127.0.0.1:1"];
    for (args, deployment) in [
        (&[&["--store", "postgres"][..], &unreachable[..]].concat(), "--store postgres"),
        (
            &[&["--store", "postgres", "--only", "services"][..], &unreachable[..]].concat(),
            "--store postgres",
        ),
        (&[&gateway[..], &redis[..]].concat(), "--only gateway"),
    ] {
        // No --jwt-secret and no CAREFLOW_JWT_SECRET: the development secret. (Nothing is
        // reachable on port 1: without the check, start-up would fail later, for another reason.)
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_careflow"))
            .args(["serve", "--log", "warn", "--grpc-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0"])
            .args(args)
            .env_remove("CAREFLOW_JWT_SECRET")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} started with the development secret");
        assert!(
            stderr.contains("development JWT secret")
                && stderr.contains("CAREFLOW_JWT_SECRET")
                && stderr.contains(deployment),
            "{args:?}: {stderr}"
        );
    }
}
