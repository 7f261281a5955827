//! The load test against the real binary: a short morning (4 wards, 60 subscriptions, 100
//! commands a second for 5 s) set up and driven through the public API only, with no errors:
//! every operation ran, every kind of subscription received the pushes its commands caused,
//! and the JSON report says so too.

use serde_json::Value;

use crate::helpers::{Careflow, SECRET};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_morning_on_the_wards_runs_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &[]);
    let json = dir.path().join("loadtest.json");
    let target = format!("http://{}", app.http());
    let args = careflow_loadtest::LoadtestArgs::parse_from([
        "--target",
        &target,
        "--jwt-secret",
        SECRET,
        "--duration",
        "5s",
        "--rate",
        "100",
        "--wards",
        "4",
        "--subscriptions",
        "60",
        "--prefix",
        "E2E",
        "--no-progress",
        "--json",
        json.to_str().unwrap(),
    ])
    .unwrap();
    let report = careflow_loadtest::run(args).await.unwrap();
    let table = report.table();
    eprintln!("{table}");

    assert_eq!(report.total_errors(), 0, "{table}");
    assert_eq!(report.subscriptions.total, 60, "{table}");
    assert_eq!(report.setup.beds, 160);
    assert!(report.run.sent >= 450, "about 100/s for 5 s: {table}");
    for op in &report.operations {
        assert!(op.ok > 0, "{} never ran: {table}", op.name);
    }
    for push in &report.pushes {
        assert!(push.matched > 0, "no {} push matched a command: {table}", push.kind);
        assert_eq!(push.missed, 0, "{table}");
    }

    let written: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(written["prefix"], "E2E");
    assert_eq!(written["run"]["errors"], 0);
    assert_eq!(written["operations"].as_array().unwrap().len(), report.operations.len());
    let kinds: Vec<&str> =
        written["pushes"].as_array().unwrap().iter().map(|p| p["kind"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        ["bedBoard", "teamInbox", "assessment", "virtualWardCensus", "careMarket", "providerRequests"]
    );
    assert!(written["pushes"][0]["latency"]["p99_ms"].as_f64().unwrap() > 0.0, "{written}");
}
