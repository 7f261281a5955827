//! A virtual ward through the real binary, over GraphQL: a bed manager configures it on a
//! site (its beds count in the site's and the system's capacity, apart); a virtual ward
//! clinician admits a patient at home; a device gateway sends readings in batches (a resent
//! reading is a duplicate; an impossible value refuses the batch, naming it, and stores
//! nothing); each is scored with NEWS2 and pushed to the clinician's live census; a high score
//! flags the patient and puts one immediate task in the team's inbox, however many high
//! readings follow; the chart shows every reading with its sub-scores; other organisations,
//! devices and non-clinicians are kept out; the discharge frees the bed and cancels the task.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::flow::{configure, configure_team, eventually};
use crate::helpers::{Careflow, Subscription, token_for, token_in};

const RECORD: &str = r#"mutation($readings: [ReadingInput!]!) { recordObservations(input: {readings: $readings}) {
    visible readings { readingId status code } } }"#;

const RECORD_SCORED: &str = r#"mutation($readings: [ReadingInput!]!) { recordObservations(input: {readings: $readings}) {
    readings { status news2 { total risk colour complete } } } }"#;

const CENSUS: &str = r#"query($ward: ID!) { virtualWardCensus(wardId: $ward) { ward { beds occupied free }
    patients { admissionId nhsNumber familyName flagged missedReadings trend
      latest { total risk colour complete } openTasks { kind priority title } } } }"#;

const LIVE: &str = r#"subscription { virtualWardCensus(wardId: "RXT01-VW") { full removed ward { occupied }
    changed { admissionId flagged latest { total risk } openTasks { kind priority } } } }"#;

fn reading(admission: &str, n: u128, vitals: Value) -> Value {
    let mut reading = json!({
        "admissionId": admission,
        "readingId": Uuid::from_u128(n).to_string(),
        "takenAt": chrono::Utc::now().to_rfc3339(),
        "source": "DEVICE",
    });
    for (key, value) in vitals.as_object().unwrap() {
        reading[key] = value.clone();
    }
    reading
}

fn well() -> Value {
    json!({"respirationRate": 16, "spo2": 97, "onOxygen": false, "systolicBp": 124, "pulse": 72,
        "consciousness": "ALERT", "temperature": 36.8})
}

/// RR 25 (3), SpO2 91 (3), air, BP 105 (1), pulse 115 (2), alert, 38.4 (1): NEWS2 10, high.
fn poorly() -> Value {
    json!({"respirationRate": 25, "spo2": 91, "onOxygen": false, "systolicBp": 105, "pulse": 115,
        "consciousness": "ALERT", "temperature": 38.4})
}

fn code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

async fn until_pushed(live: &mut Subscription, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let data = live.next_data().await;
        if done(&data["virtualWardCensus"]) {
            return data["virtualWardCensus"].clone();
        }
        assert!(Instant::now() < deadline, "not pushed in time: {data}");
    }
}

#[tokio::test]
async fn readings_from_home_are_scored_escalated_and_shown_live() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &[]);
    let admin = token_in("admin", "RXA");
    configure(&app, &admin).await;
    let clinician = token_for("vw.okoro", "virtual_ward_clinician", "RXA", &["RXT01-VW-TEAM"]);
    let device = token_in("device_gateway", "RXA");
    configure_team(&app, &admin, "RXT01-VW-TEAM", "VIRTUAL_WARD", &["RXT01-VW"], &["vw.okoro"]).await;

    let configured = app
        .data(
            &token_in("bed_manager", "RXA"),
            r#"mutation { configureVirtualWard(input: {wardId: "RXT01-VW", siteId: "RXT01", name: "Respiratory virtual ward",
                pathway: RESPIRATORY, beds: 2}) { visible ward { beds free pathway } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        configured["configureVirtualWard"]["ward"],
        json!({"beds": 2, "free": 2, "pathway": "RESPIRATORY"})
    );
    for (nhs, family) in [("9990000042", "Quarrendon"), ("9990000050", "Lytchett")] {
        app.data(
            &clinician,
            &format!(
                r#"mutation {{ registerPatient(input: {{nhsNumber: "{nhs}", givenName: "Iris", familyName: "{family}",
                    dateOfBirth: "1941-05-02", gender: FEMALE, postcode: "BD7 1DP"}}) {{ visible }} }}"#
            ),
            json!({}),
        )
        .await;
    }
    let admit = |nhs: &str, scale: &str| {
        format!(
            r#"mutation {{ admitToVirtualWard(input: {{wardId: "RXT01-VW", nhsNumber: "{nhs}", plan: {{
                observations: [RESPIRATION_RATE, OXYGEN_SATURATION, AIR_OR_OXYGEN, SYSTOLIC_BLOOD_PRESSURE, PULSE, CONSCIOUSNESS, TEMPERATURE],
                everyMinutes: 240, spo2Scale: {scale}, escalationContacts: [{{name: "Jo Quarrendon", relationship: "daughter", phone: "07700 900123"}}]}}}})
                {{ admissionId visible entry {{ familyName latest {{ total }} }} }} }}"#
        )
    };
    // Only a virtual ward clinician sets SpO2 scale 2; a community nurse may admit on scale 1.
    let nurse = token_in("community_nurse", "RXA");
    let refused = app.graphql(Some(&nurse), &admit("9990000042", "SCALE_2"), json!({})).await;
    assert_eq!(code(&refused), Some("FORBIDDEN"), "{refused}");
    let admitted = app.data(&clinician, &admit("9990000042", "SCALE_1"), json!({})).await;
    let admission = admitted["admitToVirtualWard"]["admissionId"].as_str().unwrap().to_owned();
    assert_eq!(admitted["admitToVirtualWard"]["entry"], json!({"familyName": "Quarrendon", "latest": null}));
    let second = app.data(&clinician, &admit("9990000050", "SCALE_2"), json!({})).await;
    let other = second["admitToVirtualWard"]["admissionId"].as_str().unwrap().to_owned();

    // The beds count in the site's and the system's capacity, apart from real beds.
    let capacity = app
        .data(
            &admin,
            r#"{ site(id: "RXT01") { capacity { total } virtualBeds { total occupied free } }
            systemCapacity { beds { total } virtualBeds { wards total occupied } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(capacity["site"]["virtualBeds"], json!({"total": 2, "occupied": 2, "free": 0}));
    assert_eq!(capacity["site"]["capacity"]["total"], 2, "the real beds, apart");
    assert_eq!(capacity["systemCapacity"]["virtualBeds"], json!({"wards": 1, "total": 2, "occupied": 2}));
    let full = app.graphql(Some(&clinician), &admit("9990000018", "SCALE_1"), json!({})).await;
    assert_eq!(code(&full), Some("CONFLICT"), "{full}");

    let mut live = app.subscribe(&clinician, LIVE).await;
    let first = live.next_data().await;
    assert_eq!(first["virtualWardCensus"]["full"], true);
    assert_eq!(first["virtualWardCensus"]["changed"].as_array().unwrap().len(), 2);

    // A well reading, then the same reading resent with a high one: a duplicate and a record.
    let recorded = app.data(&device, RECORD, json!({"readings": [reading(&admission, 1, well())]})).await;
    assert_eq!(recorded["recordObservations"]["readings"][0]["status"], "RECORDED");
    let batch = json!({"readings": [reading(&admission, 1, well()), reading(&admission, 2, poorly())]});
    let recorded = app.data(&device, RECORD, batch).await;
    let statuses: Vec<&str> = recorded["recordObservations"]["readings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["DUPLICATE", "RECORDED"]);
    let pushed = until_pushed(&mut live, |c| c["changed"][0]["latest"]["total"] == 10).await;
    assert_eq!(pushed["changed"][0]["flagged"], true);
    assert_eq!(pushed["changed"][0]["latest"]["risk"], "HIGH");
    let escalated =
        until_pushed(&mut live, |c| !c["changed"][0]["openTasks"].as_array().unwrap().is_empty()).await;
    assert_eq!(
        escalated["changed"][0]["openTasks"],
        json!([{"kind": "NEWS2_ESCALATION", "priority": "IMMEDIATE"}])
    );

    // High again, then a medium reading of the other patient: once that one's task is raised,
    // the workflow has seen the second high reading, and raised nothing for it.
    app.data(&device, RECORD, json!({"readings": [reading(&admission, 3, poorly())]})).await;
    // On SpO2 scale 2 (target 88–92%): 86% scores 1, so RR 22 (2) + 1 + pulse 112 (2) = 5.
    let medium = json!({"respirationRate": 22, "spo2": 86, "onOxygen": false, "systolicBp": 120, "pulse": 112,
        "consciousness": "ALERT", "temperature": 37.0});
    app.data(&device, RECORD, json!({"readings": [reading(&other, 4, medium)]})).await;
    let census = eventually(&app, &clinician, CENSUS, json!({"ward": "RXT01-VW"}), |d| {
        d["virtualWardCensus"]["patients"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| !p["openTasks"].as_array().unwrap().is_empty())
    })
    .await;
    let patients = census["virtualWardCensus"]["patients"].as_array().unwrap();
    assert_eq!(patients[0]["admissionId"], admission.as_str(), "the highest risk first");
    assert_eq!(patients[0]["trend"], json!([0, 10, 10]));
    assert_eq!(patients[0]["openTasks"].as_array().unwrap().len(), 1, "one task while the score stays high");
    assert_eq!(
        patients[1]["latest"],
        json!({"total": 5, "risk": "MEDIUM", "colour": "amber", "complete": true})
    );
    assert_eq!(patients[1]["openTasks"][0]["priority"], "URGENT");
    let inbox = app
        .data(&clinician, r#"{ teamInbox(teamId: "RXT01-VW-TEAM") { kind priority nhsNumber } }"#, json!({}))
        .await;
    assert_eq!(inbox["teamInbox"].as_array().unwrap().len(), 2, "{inbox}");

    // The same batch sent twice at once (a device retrying on a slow answer): recorded once.
    let twice = json!({"readings": [reading(&other, 20, well())]});
    let (a, b) = tokio::join!(app.data(&device, RECORD, twice.clone()), app.data(&device, RECORD, twice));
    let mut statuses: Vec<String> = [a, b]
        .iter()
        .map(|r| r["recordObservations"]["readings"][0]["status"].as_str().unwrap().to_owned())
        .collect();
    statuses.sort();
    assert_eq!(statuses, ["DUPLICATE", "RECORDED"]);

    // An impossible value refuses the batch, naming it; nothing is stored.
    let bad = json!({"readings": [reading(&admission, 5, well()), reading(&admission, 6, json!({"spo2": 120, "pulse": 0}))]});
    let refused = app.graphql(Some(&device), RECORD, bad).await;
    assert_eq!(code(&refused), Some("BAD_USER_INPUT"), "{refused}");
    let fields: Vec<&str> = refused["errors"][0]["extensions"]["fieldViolations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["readings[1].spo2", "readings[1].pulse"]);
    let chart = r#"query($id: ID!) { observationChart(admissionId: $id) { plan { everyMinutes escalationContacts { relationship } }
        readings { readingId total risk complete scores { parameter score } } } }"#;
    let charted = app.data(&clinician, chart, json!({"id": admission})).await;
    let readings = charted["observationChart"]["readings"].as_array().unwrap();
    assert_eq!(readings.len(), 3, "the duplicate once, the refused batch not at all");
    let scores: Vec<u64> =
        readings[1]["scores"].as_array().unwrap().iter().map(|s| s["score"].as_u64().unwrap()).collect();
    assert_eq!(scores, [3, 3, 0, 1, 2, 0, 1]);
    // A reading from the future, and one of an unknown admission: named, or refused alone.
    let mut future = reading(&admission, 7, well());
    future["takenAt"] = json!((chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339());
    let refused = app.graphql(Some(&device), RECORD, json!({"readings": [future]})).await;
    assert_eq!(refused["errors"][0]["extensions"]["fieldViolations"][0]["field"], "readings[0].takenAt");
    let unknown = Uuid::from_u128(99).to_string();
    let mixed = app
        .data(
            &device,
            RECORD,
            json!({"readings": [reading(&unknown, 8, well()), reading(&other, 9, well())]}),
        )
        .await;
    let outcomes = &mixed["recordObservations"]["readings"];
    assert_eq!(
        (outcomes[0]["status"].as_str(), outcomes[0]["code"].as_str()),
        (Some("REFUSED"), Some("NOT_FOUND"))
    );
    assert_eq!(outcomes[1]["status"], "RECORDED");

    // Kept out of the census: another organisation, a device, a role without patient records;
    // out of the chart, all but the other organisation's clinician, who sees it as the
    // patient's record (they have not dissented from sharing).
    let elsewhere = token_for("vw.ryc", "virtual_ward_clinician", "RYC", &[]);
    for (token, chart_seen) in
        [(&elsewhere, true), (&device, false), (&token_in("housekeeping", "RXA"), false)]
    {
        let denied = app.graphql(Some(token), CENSUS, json!({"ward": "RXT01-VW"})).await;
        assert_eq!(code(&denied), Some("FORBIDDEN"), "{denied}");
        let read = app.graphql(Some(token), chart, json!({"id": admission})).await;
        assert_eq!(code(&read), if chart_seen { None } else { Some("FORBIDDEN") }, "{read}");
    }
    let foreign = app
        .graphql(
            Some(&token_in("device_gateway", "RYC")),
            RECORD,
            json!({"readings": [reading(&admission, 10, well())]}),
        )
        .await;
    assert_eq!(foreign["data"]["recordObservations"]["readings"][0]["code"], "FORBIDDEN", "{foreign}");

    // A clinician recording a set reads its score back; a device may record, not read.
    let scored =
        app.data(&clinician, RECORD_SCORED, json!({"readings": [reading(&other, 11, well())]})).await;
    assert_eq!(
        scored["recordObservations"]["readings"][0]["news2"],
        json!({"total": 0, "risk": "LOW", "colour": "green", "complete": true})
    );
    let blind =
        app.graphql(Some(&device), RECORD_SCORED, json!({"readings": [reading(&other, 12, well())]})).await;
    assert_eq!(code(&blind), Some("FORBIDDEN"), "{blind}");
    assert_eq!(blind["data"]["recordObservations"]["readings"][0]["status"], "RECORDED");

    // The discharge frees the bed, leaves the census and cancels the open task.
    let discharged = app
        .data(
            &clinician,
            "mutation($id: ID!) { dischargeFromVirtualWard(input: {admissionId: $id, outcome: COMPLETED}) { visible entry { familyName } } }",
            json!({"id": admission}),
        )
        .await;
    assert_eq!(discharged["dischargeFromVirtualWard"], json!({"visible": true, "entry": null}));
    let removed = until_pushed(&mut live, |c| !c["removed"].as_array().unwrap().is_empty()).await;
    assert_eq!(removed["removed"], json!([admission]));
    assert_eq!(removed["ward"]["occupied"], 1);
    eventually(&app, &clinician, r#"{ teamInbox(teamId: "RXT01-VW-TEAM") { nhsNumber } }"#, json!({}), |d| {
        d["teamInbox"].as_array().unwrap().len() == 1
    })
    .await;
    let outcome = app
        .data(
            &clinician,
            r#"query($id: ID!) { observationChart(admissionId: $id) { outcome } }"#,
            json!({"id": admission}),
        )
        .await;
    assert_eq!(outcome["observationChart"]["outcome"], "COMPLETED");
}
