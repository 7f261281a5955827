//! The real binary, end to end: configure a ward over GraphQL, drive admit → medically
//! optimised → discharge → cleaned with a nurse's token, receive every subscription push, restart
//! the process and find the same bed board.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

mod assessments;
mod brokerage;
mod browser;
#[path = "../helpers/mod.rs"]
mod helpers;
mod loadtest;
mod patients;
mod tasks;
mod traces;
mod trusted_assessment;
mod virtual_wards;
mod workflows;

use helpers::flow::{self, BOARD, configure};
use helpers::{Careflow, token, token_in};
use serde_json::{Value, json};

#[tokio::test]
async fn bed_flow_end_to_end_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &[]);
    let (admin, nurse) = (token("admin"), token("ward_nurse"));
    configure(&app, &admin).await;

    flow::admit_discharge_clean(&app, &nurse).await;

    // Leave something non-trivial on the board, then restart gracefully and compare.
    app.data(
        &nurse,
        r#"mutation { blockBed(input: {bedId: "RXT01-W1-B02", reason: INFECTION_CONTROL, note: "Side room closed"}) { bed { status } } }"#,
        json!({}),
    )
    .await;
    let before = app.data(&nurse, BOARD, json!({"ward": "RXT01-W1"})).await;
    assert!(app.terminate(), "careflow stops cleanly on SIGTERM");

    let app = Careflow::start(dir.path(), &[]);
    let after = app.data(&nurse, BOARD, json!({"ward": "RXT01-W1"})).await;
    assert_eq!(after, before);
    let statuses: Vec<&str> =
        after["bedBoard"].as_array().unwrap().iter().map(|b| b["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["AVAILABLE", "BLOCKED"]);
}

#[tokio::test]
async fn bad_tokens_bad_input_and_illegal_transitions_get_clear_codes() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &[]);
    let (admin, nurse) = (token("admin"), token("ward_nurse"));
    configure(&app, &admin).await;

    let code = |response: &Value| response["errors"][0]["extensions"]["code"].as_str().map(str::to_owned);
    let query = r#"{ bedBoard(wardId: "RXT01-W1") { id } }"#;
    assert_eq!(code(&app.graphql(None, query, json!({})).await).as_deref(), Some("UNAUTHENTICATED"));
    assert_eq!(
        code(&app.graphql(Some("not-a-jwt"), query, json!({})).await).as_deref(),
        Some("UNAUTHENTICATED")
    );
    let provider = token("care_provider");
    assert_eq!(code(&app.graphql(Some(&provider), query, json!({})).await).as_deref(), Some("FORBIDDEN"));
    let unknown = app.graphql(Some(&nurse), r#"{ bedBoard(wardId: "RXT01-NOPE") { id } }"#, json!({})).await;
    assert_eq!(code(&unknown).as_deref(), Some("NOT_FOUND"));

    let bad = app
        .graphql(
            Some(&nurse),
            r#"mutation { admitPatient(input: {bedId: "RXT01-W1-B01", nhsNumber: "9990000019", givenName: "", familyName: "Orpwood"}) { stayId } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&bad).as_deref(), Some("BAD_USER_INPUT"), "{bad}");
    let fields: Vec<&str> = bad["errors"][0]["extensions"]["fieldViolations"]
        .as_array()
        .expect("field violations")
        .iter()
        .filter_map(|v| v["field"].as_str())
        .collect();
    assert!(fields.contains(&"nhsNumber") && fields.contains(&"givenName"), "{bad}");

    let illegal = app
        .graphql(
            Some(&nurse),
            r#"mutation { markBedCleaned(input: {bedId: "RXT01-W1-B01"}) { bed { status } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&illegal).as_deref(), Some("CONFLICT"), "{illegal}");
    assert!(illegal["errors"][0]["message"].as_str().unwrap_or_default().contains("AVAILABLE"), "{illegal}");

    // Nothing was stored by the refused commands.
    let board = app.data(&nurse, r#"{ bedBoard(wardId: "RXT01-W1") { status } }"#, json!({})).await;
    assert!(board["bedBoard"].as_array().unwrap().iter().all(|b| b["status"] == "AVAILABLE"));

    let (status, _) = app.get("/healthz").await;
    assert_eq!(status, 200);
    let (status, _) = app.get("/readyz").await;
    assert_eq!(status, 200);
    let (status, metrics) = app.get("/metrics").await;
    assert_eq!(status, 200);
    for metric in [
        "careflow_graphql_requests_total",
        "careflow_event_store_head_position",
        "careflow_read_model_lag_events{model=\"bed_board\"}",
        // The configuration and the refused clean, by context, outcome and code.
        "careflow_commands_total{context=\"beds\",outcome=\"appended\",code=\"OK\"} 4",
        "careflow_commands_total{context=\"beds\",outcome=\"rejected\",code=\"FAILED_PRECONDITION\"} 1",
        "careflow_append_seconds_count{context=\"beds\"} 4",
        "careflow_read_model_lag_seconds_count{model=\"bed_board\"}",
    ] {
        assert!(metrics.contains(metric), "{metric} missing from {metrics}");
    }
}

#[tokio::test]
async fn the_demo_loads_once() {
    let dir = tempfile::tempdir().unwrap();
    let nurse = token("ward_nurse");
    let capacity = r#"{ sites { id capacity { total occupied available awaitingCleaning blocked reserved medicallyOptimisedInBed } } }"#;
    let app = Careflow::start(dir.path(), &["--demo"]);
    let first = app.data(&nurse, capacity, json!({})).await;
    drop(app);
    let app = Careflow::start(dir.path(), &["--demo"]);
    let second = app.data(&nurse, capacity, json!({})).await;
    assert_eq!(first, second, "re-running the demo adds nothing");
    let sites = first["sites"].as_array().unwrap();
    let ids: Vec<&str> = sites.iter().map(|s| s["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        ["RXA01", "RXA02", "RXA03", "RYC01"],
        "the acute trust's three sites and the community trust's"
    );
    let total: u64 = sites.iter().map(|s| s["capacity"]["total"].as_u64().unwrap()).sum();
    let occupied: u64 = sites.iter().map(|s| s["capacity"]["occupied"].as_u64().unwrap()).sum();
    assert!((250..=350).contains(&total), "about 300 beds, got {total}");
    assert!(occupied > total / 2, "mostly occupied: {occupied} of {total}");

    // Registered patients with flags, found by postcode; a few dissent.
    let found = app
        .data(&nurse, r#"{ searchPatients(postcode: "LS6 2QB") { nhsNumber dateOfBirth gpPractice activeFlagKinds location { wardId } } }"#, json!({}))
        .await;
    let found = found["searchPatients"].as_array().unwrap();
    assert!(found.len() >= 10, "patients live at LS6 2QB: {}", found.len());
    assert!(
        found.iter().all(|p| p["nhsNumber"].as_str().unwrap().starts_with("999")),
        "synthetic NHS numbers"
    );
    assert!(found.iter().all(|p| p["dateOfBirth"].is_string() && p["gpPractice"].is_string()));
    let kinds: std::collections::BTreeSet<&str> = found
        .iter()
        .flat_map(|p| p["activeFlagKinds"].as_array().unwrap())
        .map(|k| k.as_str().unwrap())
        .collect();
    assert!(kinds.contains("FRAILTY") && kinds.contains("END_OF_LIFE_CARE_PLAN"), "{kinds:?}");
    assert!(found.iter().any(|p| p["location"].is_null()), "some are at home");
    let board =
        app.data(&nurse, r#"{ bedBoard(wardId: "RXA01-OAK") { patient { activeFlags } } }"#, json!({})).await;
    let flagged = board["bedBoard"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| !b["patient"]["activeFlags"].as_array().is_none_or(|f| f.is_empty()))
        .count();
    assert!(flagged > 0, "the bed board shows flags: {board}");

    // Teams in every organisation, open work in every inbox, some of it overdue; the
    // workflows have routed the demo's discharges to a council and the wards' housekeeping.
    let teams = r#"{ teams { id organisation openTasks overdueTasks } }"#;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (council, trust) = (token_in("admin", "LA001"), token_in("admin", "RXA"));
    loop {
        let data = app.data(&trust, teams, json!({})).await;
        let teams = data["teams"].as_array().unwrap();
        let count = |id: &str, field: &str| {
            teams.iter().find(|t| t["id"] == id).and_then(|t| t[field].as_u64()).unwrap_or(0)
        };
        let every_inbox = teams.iter().all(|t| t["openTasks"].as_u64().unwrap_or(0) >= 2);
        let overdue = teams.iter().filter(|t| t["overdueTasks"].as_u64().unwrap_or(0) > 0).count();
        if every_inbox
            && overdue == teams.len()
            && count("LA001-HSWT", "openTasks") > 3
            && count("RXA01-HOUSEKEEPING", "openTasks") > 3
        {
            let orgs: std::collections::BTreeSet<&str> =
                teams.iter().map(|t| t["organisation"].as_str().unwrap()).collect();
            assert_eq!(orgs.into_iter().collect::<Vec<_>>(), ["LA001", "LA002", "RXA", "RYC"]);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the demo's work did not arrive: {data}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let inbox =
        app.data(&council, r#"{ teamInbox(teamId: "LA001-HSWT") { kind overdue } }"#, json!({})).await;
    let rows = inbox["teamInbox"].as_array().unwrap();
    assert!(rows[0]["overdue"] == true, "overdue first: {inbox}");
    assert!(rows.iter().any(|r| r["kind"] == "TRUSTED_ASSESSMENT"), "{inbox}");

    // Trusted assessments: two in progress, one submitted; a signed-off frailty score of 6 has
    // raised its patient's frailty flag through the rule.
    let social_worker = helpers::token_for("1.la001-hswt", "social_worker", "LA001", &["LA001-HSWT"]);
    let listed = app
        .data(
            &social_worker,
            "{ assessmentsInProgress { id nhsNumber status requiredSigned required } }",
            json!({}),
        )
        .await;
    let rows = listed["assessmentsInProgress"].as_array().unwrap();
    let statuses: std::collections::BTreeMap<&str, usize> =
        rows.iter().fold(Default::default(), |mut m, r| {
            *m.entry(r["status"].as_str().unwrap()).or_default() += 1;
            m
        });
    // (and the four the market's requests were posted from).
    assert_eq!(statuses, [("IN_PROGRESS", 2), ("SUBMITTED", 5)].into(), "{listed}");
    let half = rows.iter().find(|r| r["requiredSigned"] == 4).expect("the half-done one");
    let flags =
        r#"query($n: String!) { patient(nhsNumber: $n) { flags { kind frailtyScore raisedBy { rule } } } }"#;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let data = app.data(&nurse, flags, json!({"n": half["nhsNumber"]})).await;
        let by_rule = data["patient"]["flags"].as_array().unwrap().iter().any(|f| {
            f["kind"] == "FRAILTY" && f["raisedBy"]["rule"] == "cfs-frailty" && f["frailtyScore"] == 6
        });
        if by_rule {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no frailty flag by the rule: {data}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    the_demo_has_virtual_wards(&app).await;
    the_demo_has_a_care_market(&app).await;
}

/// The demo's care market: requests at every stage, offers ranked, a suspended provider, a
/// provider with a request to offer on, and the placed patient's ward told to discharge.
async fn the_demo_has_a_care_market(app: &Careflow) {
    let broker = helpers::token_for("broker.la001", "broker", "LA001", &[]);
    let market = app
        .data(
            &broker,
            r#"{ careMarket { requests { careType district state offers { providerName ranking { rank } } }
                finished { state hoursToPlacement placement { providerName } person { nhsNumber } }
                providers { ods suspended } figures { active open placed } } }"#,
            json!({}),
        )
        .await;
    let m = &market["careMarket"];
    assert_eq!(m["figures"], json!({"active": 4, "open": 4, "placed": 1}), "{market}");
    let ls6 = m["requests"].as_array().unwrap().iter().find(|r| r["district"] == "LS6").unwrap();
    assert_eq!(ls6["offers"][0]["providerName"], "Oakleigh Care Home", "ranked first under 60/40: {ls6}");
    assert_eq!(ls6["offers"][0]["ranking"]["rank"], 1);
    assert_eq!(m["finished"][0]["placement"]["providerName"], "Oakleigh Care Home");
    let suspended: Vec<&Value> =
        m["providers"].as_array().unwrap().iter().filter(|p| !p["suspended"].is_null()).collect();
    assert_eq!(suspended.len(), 1, "{market}");
    let provider = helpers::token_for("manager.vn102", "care_provider", "VN102", &[]);
    let view = app
        .data(
            &provider,
            "{ providerRequests { eligible { district offers { state } } offered { careType } } }",
            json!({}),
        )
        .await;
    let eligible = view["providerRequests"]["eligible"].as_array().unwrap();
    assert!(eligible.iter().any(|r| r["district"] == "LS8"), "{view}");
    assert_eq!(view["providerRequests"]["offered"][0]["careType"], "NURSING", "{view}");
    let nhs = m["finished"][0]["person"]["nhsNumber"].clone();
    let nurse = token("ward_nurse");
    flow::eventually(
        app,
        &nurse,
        r#"query($n: String!) { patient(nhsNumber: $n) { openTasks { kind } } }"#,
        json!({"n": nhs}),
        |d| {
            d["patient"]["openTasks"]
                .as_array()
                .is_some_and(|t| t.iter().any(|t| t["kind"] == "DISCHARGE_TO_CARE"))
        },
    )
    .await;
}

/// The demo's virtual wards: patients at home with a history of readings, some deteriorating
/// (flagged, with an escalation task each), one gone quiet (missed readings, a contact task).
async fn the_demo_has_virtual_wards(app: &Careflow) {
    let clinician = helpers::token_for("1.rxa-vw-team", "virtual_ward_clinician", "RXA", &["RXA-VW-TEAM"]);
    let census = r#"query($ward: ID!) { virtualWardCensus(wardId: $ward) { ward { beds occupied }
        patients { flagged missedReadings trend latest { risk } openTasks { kind } } } }"#;
    let escalated = |d: &Value| {
        let patients = d["virtualWardCensus"]["patients"].as_array().unwrap();
        patients
            .iter()
            .filter(|p| p["flagged"] == true && !p["openTasks"].as_array().unwrap().is_empty())
            .count()
    };
    let resp =
        flow::eventually(app, &clinician, census, json!({"ward": "RXA01-VW-RESP"}), |d| escalated(d) >= 2)
            .await;
    let patients = resp["virtualWardCensus"]["patients"].as_array().unwrap();
    assert_eq!(resp["virtualWardCensus"]["ward"], json!({"beds": 20, "occupied": 7}));
    assert_eq!(patients[0]["latest"]["risk"], "HIGH", "the highest risk first");
    assert!(patients.iter().all(|p| p["trend"].as_array().unwrap().len() >= 3), "{resp}");
    let quiet = |d: &Value| {
        d["virtualWardCensus"]["patients"].as_array().unwrap().iter().any(|p| {
            p["missedReadings"].as_u64().unwrap_or(0) > 0
                && p["openTasks"].as_array().unwrap().iter().any(|t| t["kind"] == "MISSED_READING")
        })
    };
    flow::eventually(app, &clinician, census, json!({"ward": "RXA01-VW-FRAILTY"}), quiet).await;
}

#[tokio::test]
async fn spans_are_exported_to_the_configured_otlp_endpoint() {
    // A stand-in collector: it only records what the exporter sends (an HTTP/2 gRPC stream).
    let collector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", collector.local_addr().unwrap());
    let received = tokio::spawn(async move {
        use tokio::io::AsyncReadExt;
        let (mut socket, _) = collector.accept().await.unwrap();
        let mut bytes = vec![0u8; 24];
        socket.read_exact(&mut bytes).await.unwrap();
        bytes
    });
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &["--otlp-endpoint", &endpoint]);
    let admin = token("admin");
    configure(&app, &admin).await;
    assert!(app.terminate(), "stops cleanly, flushing spans");
    let preface = tokio::time::timeout(std::time::Duration::from_secs(20), received).await.unwrap().unwrap();
    assert_eq!(&preface, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
}

/// The README's five-minute tour, as written: the GraphQL body of every numbered `curl` step runs
/// in order against the demo, then the steps the tour says to repeat run again. Every answer is
/// free of errors (a second admission into a bed that still awaits cleaning would be refused).
#[tokio::test]
async fn the_readme_tour_works_as_written() {
    let readme = include_str!("../../README.md");
    let tour = readme.split("## A five-minute tour").nth(1).unwrap();
    let tour = tour.split("\n## ").next().unwrap();
    // Steps: a `# N. …` comment line, then a curl whose `-d '…'` body is the GraphQL request.
    let mut steps: Vec<(u32, Value)> = Vec::new();
    let mut number = None;
    for line in tour.lines() {
        let step = line.strip_prefix("# ").and_then(|rest| rest.split_once(". "));
        if let Some(n) = step.and_then(|(n, _)| n.parse::<u32>().ok()) {
            number = Some(n);
        }
        if let (Some(n), Some(body)) = (number, line.trim().strip_prefix("-d '")) {
            let body = body.strip_suffix('\'').unwrap();
            steps.push((n, serde_json::from_str(body).unwrap_or_else(|e| panic!("step {n}: {e}: {body}"))));
        }
    }
    let numbers: Vec<u32> = steps.iter().map(|(n, _)| *n).collect();
    assert_eq!(numbers, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], "the tour's curl steps");
    let repeat = tour.split("repeat steps ").nth(1).unwrap();
    let (from, to) = repeat.split_once('–').unwrap();
    let (from, to): (u32, u32) = (from.parse().unwrap(), to[..1].parse().unwrap());

    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &["--demo"]);
    // As step 1's `careflow token --user nurse.okafor --role ward_nurse --org RXA --team RXA01-AMU-TEAM`.
    let nurse = helpers::token_for("nurse.okafor", "ward_nurse", "RXA", &["RXA01-AMU-TEAM"]);
    let (mut stay, mut assessment) = (None::<String>, None::<String>);
    let mut run = async |n: u32, body: &Value| {
        let mut query = body["query"].as_str().unwrap().to_owned();
        for (placeholder, id) in [("<stayId>", &stay), ("<assessmentId>", &assessment)] {
            if let Some(id) = id {
                query = query.replace(placeholder, id);
            }
            assert!(!query.contains(placeholder), "step {n} needs {placeholder} from an earlier step");
        }
        let data = app.data(&nurse, &query, json!({})).await;
        if let Some(id) = data["admitPatient"]["stayId"].as_str() {
            stay = Some(id.to_owned());
        }
        if let Some(id) = data["startAssessment"]["assessmentId"].as_str() {
            assessment = Some(id.to_owned());
        }
        data
    };
    for (n, body) in &steps {
        let data = run(*n, body).await;
        if let Some(patient) = data.get("patient") {
            assert_eq!(patient["registered"], true, "step {n}: the admission registered them");
            assert!(patient["timeline"].as_array().is_some_and(|t| t.len() >= 2), "step {n}: {patient}");
        }
        if let Some(raised) = data.get("raiseFlag") {
            assert_eq!(raised["patient"]["activeFlagKinds"], json!(["FRAILTY"]), "step {n}");
            assert_eq!(raised["patient"]["flags"][0]["snomedCode"], "925861000000102", "step {n}");
        }
        if let Some(found) = data["searchPatients"].as_array() {
            assert!(!found.is_empty(), "step {n}: the demo has patients at that postcode");
        }
        if let Some(inbox) = data["teamInbox"].as_array() {
            assert!(inbox.len() >= 3, "step {n}: the demo gave the ward work: {data}");
            assert!(
                data["teams"].as_array().is_some_and(|t| t.iter().any(|t| t["id"] == "LA001-HSWT")),
                "step {n}"
            );
        }
        if let Some(started) = data.get("startAssessment") {
            let sections = started["assessment"]["sections"].as_array().unwrap();
            assert_eq!(sections.len(), 12, "step {n}: every section of the template");
            assert!(sections.iter().any(|s| s["id"] == "frailty" && s["canEdit"] == true), "step {n}");
        }
        if let Some(saved) = data.get("saveAssessmentSection") {
            let frailty =
                saved["assessment"]["sections"].as_array().unwrap().iter().find(|s| s["id"] == "frailty");
            assert_eq!(frailty.unwrap()["version"], 1, "step {n}: {saved}");
        }
        if let Some(created) = data.get("createTask") {
            assert!(created["taskId"].is_string() && created["visible"] == true, "step {n}: {created}");
        }
    }
    for (n, body) in steps.iter().filter(|(n, _)| (from..=to).contains(n)) {
        let data = run(*n, body).await;
        if let Some(status) = data["markBedCleaned"]["bed"]["status"].as_str() {
            assert_eq!(status, "AVAILABLE");
        }
    }
}

#[tokio::test]
async fn an_nhs_number_written_the_usual_way_is_accepted_and_stored_as_10_digits() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &[]);
    let (admin, nurse) = (token("admin"), token("ward_nurse"));
    configure(&app, &admin).await;
    let admit = |nhs: &str| {
        format!(
            r#"mutation {{ admitPatient(input: {{bedId: "RXT01-W1-B01", nhsNumber: "{nhs}", givenName: "Ada",
                familyName: "Quennell"}}) {{ bed {{ status patient {{ nhsNumber }} }} }} }}"#
        )
    };
    let refused = app.graphql(Some(&nurse), &admit("9990 000018"), json!({})).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
    let admitted = app.data(&nurse, &admit("999 000 0018"), json!({})).await;
    assert_eq!(admitted["admitPatient"]["bed"]["patient"]["nhsNumber"], "9990000018");
    let board = app.data(&nurse, BOARD, json!({"ward": "RXT01-W1"})).await;
    assert!(board.to_string().contains("\"9990000018\""), "{board}");
}
