//! The bed flow over GraphQL, shared by the black-box tests of one process and of several.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::Careflow;

/// The whole bed board of a ward, every field the flow touches.
pub const BOARD: &str = r#"query($ward: ID!) { bedBoard(wardId: $ward) { id status stayId patient { nhsNumber givenName familyName }
    expectedDischargeDate medicallyOptimised dischargeReadyDate pathway blockedReason } }"#;

/// Registers site RXT01, ward RXT01-W1 and beds B01, B02.
pub async fn configure(app: &Careflow, admin: &str) {
    app.data(
        admin,
        r#"mutation { registerSite(input: {siteId: "RXT01", name: "Testbury General"}) { position } }"#,
        json!({}),
    )
    .await;
    app.data(
        admin,
        r#"mutation { configureWard(input: {wardId: "RXT01-W1", siteId: "RXT01", name: "Larch Ward", specialty: "Acute medicine"}) { position } }"#,
        json!({}),
    )
    .await;
    for bed in ["RXT01-W1-B01", "RXT01-W1-B02"] {
        app.data(
            admin,
            "mutation($bed: ID!) { addBed(input: {bedId: $bed, wardId: \"RXT01-W1\", label: \"Bay 1\"}) { position } }",
            json!({"bed": bed}),
        )
        .await;
    }
}

fn bed<'a>(data: &'a Value, key: &str) -> &'a Value {
    &data[key]["bed"]
}

/// Admit → medically optimised → discharge → cleaned on RXT01-W1-B01 as `nurse`: each
/// mutation answers with its own change (read-your-writes) and each change is pushed to a
/// subscriber of the ward's board.
pub async fn admit_discharge_clean(app: &Careflow, nurse: &str) {
    let mut pushes = app.subscribe(nurse,
        r#"subscription { bedBoard(wardId: "RXT01-W1") { id status medicallyOptimised patient { nhsNumber } } }"#,
    )
    .await;

    // Admit: the mutation answers with the bed already OCCUPIED (read-your-writes).
    let admitted = app
        .data(
            nurse,
            r#"mutation { admitPatient(input: {commandId: "0193a0c4-0000-7000-8000-000000000001", bedId: "RXT01-W1-B01",
                nhsNumber: "9990000018", givenName: "Mavis", familyName: "Orpwood"}) { stayId bed { id status patient { nhsNumber } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(bed(&admitted, "admitPatient")["status"], "OCCUPIED");
    assert_eq!(bed(&admitted, "admitPatient")["patient"]["nhsNumber"], "9990000018");
    let stay = admitted["admitPatient"]["stayId"].as_str().expect("stay id").to_owned();
    let push = pushes.next_data().await;
    assert_eq!(push["bedBoard"]["id"], "RXT01-W1-B01");
    assert_eq!(push["bedBoard"]["status"], "OCCUPIED");

    let optimised = app
        .data(
            nurse,
            "mutation($stay: ID!) { markMedicallyOptimised(input: {stayId: $stay, dischargeReadyDate: \"2030-01-02\", pathway: 1}) { bed { medicallyOptimised pathway } } }",
            json!({"stay": stay}),
        )
        .await;
    assert_eq!(bed(&optimised, "markMedicallyOptimised")["medicallyOptimised"], true);
    assert_eq!(pushes.next_data().await["bedBoard"]["medicallyOptimised"], true);

    let discharged = app
        .data(
            nurse,
            "mutation($stay: ID!) { dischargePatient(input: {stayId: $stay, destination: USUAL_RESIDENCE, pathway: 1}) { bed { status patient { nhsNumber } } } }",
            json!({"stay": stay}),
        )
        .await;
    assert_eq!(bed(&discharged, "dischargePatient")["status"], "AWAITING_CLEANING");
    assert_eq!(bed(&discharged, "dischargePatient")["patient"], Value::Null);
    assert_eq!(pushes.next_data().await["bedBoard"]["status"], "AWAITING_CLEANING");

    let cleaned = app
        .data(
            nurse,
            r#"mutation { markBedCleaned(input: {bedId: "RXT01-W1-B01"}) { bed { status } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(bed(&cleaned, "markBedCleaned")["status"], "AVAILABLE");
    assert_eq!(pushes.next_data().await["bedBoard"]["status"], "AVAILABLE");
}

/// Configures team `team` of `kind` as `admin`, with its wards and members.
pub async fn configure_team(
    app: &Careflow,
    admin: &str,
    team: &str,
    kind: &str,
    wards: &[&str],
    members: &[&str],
) {
    let configured = app
        .graphql(
            Some(admin),
            &format!(
                r#"mutation($wards: [String!]!, $members: [String!]!) {{ configureTeam(input: {{teamId: "{team}", name: "{team}",
                    kind: {kind}, wards: $wards, members: $members}}) {{ visible }} }}"#
            ),
            json!({ "wards": wards, "members": members }),
        )
        .await;
    assert!(configured.get("errors").is_none(), "{configured}");
}

/// Polls (with a deadline) until `query` gives data that `done` accepts.
pub async fn eventually(
    app: &Careflow,
    token: &str,
    query: &str,
    variables: Value,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let data = app.data(token, query, variables.clone()).await;
        if done(&data) {
            return data;
        }
        assert!(Instant::now() < deadline, "not reached in time: {data}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
