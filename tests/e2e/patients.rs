//! Patients and flags through the real binary over GraphQL: register, search, flag, see the
//! flag on the bed board and live on the patient's summary, and a dissent that hides the
//! patient from an organisation not caring for them while those who are still see them.

use serde_json::{Value, json};

use crate::helpers::flow::configure;
use crate::helpers::{Careflow, token, token_in};

const NHS: &str = "9990000026";

const RECORD: &str = r#"query($nhs: String!) { patient(nhsNumber: $nhs) { nhsNumber registered givenName familyName
    dateOfBirth gender postcode gpPractice sharingDissent activeFlagKinds
    flags(includeResolved: true) { id kind snomedCode frailtyScore severity active raisedBy { userId organisation } }
    location { siteId wardId bedId bedLabel wardName organisation }
    timeline { context eventType summary } } }"#;

fn code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

async fn register(app: &Careflow, clerk: &str) -> Value {
    app.graphql(
        Some(clerk),
        r#"mutation($nhs: String!) { registerPatient(input: {nhsNumber: $nhs, givenName: "Ottoline", familyName: "Brackenbury",
            dateOfBirth: "1939-05-17", gender: FEMALE, postcode: "ls6 2qb", gpPractice: "B86001"}) {
            visible patient { nhsNumber familyName postcode } } }"#,
        json!({"nhs": "999 000 0026"}),
    )
    .await
}

#[tokio::test]
async fn a_patient_is_registered_found_flagged_and_followed_live() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &[]);
    let (admin, clerk, nurse) = (token("admin"), token("ward_clerk"), token("ward_nurse"));
    configure(&app, &admin).await;

    let registered = register(&app, &clerk).await;
    assert!(registered.get("errors").is_none(), "{registered}");
    let payload = &registered["data"]["registerPatient"];
    assert_eq!(payload["visible"], true);
    assert_eq!(
        payload["patient"],
        json!({"nhsNumber": NHS, "familyName": "Brackenbury", "postcode": "LS6 2QB"})
    );

    // Twice: refused, naming the patient by NHS number only.
    let again = register(&app, &clerk).await;
    assert_eq!(code(&again), Some("CONFLICT"), "{again}");
    let message = again["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains(NHS) && !message.contains("Brackenbury"), "{message}");

    // Bad input names every field and stores nothing.
    let bad = app
        .graphql(
            Some(&clerk),
            r#"mutation { registerPatient(input: {nhsNumber: "9990000027", givenName: "", familyName: "X",
                dateOfBirth: "17/05/1939", gender: MALE, postcode: "nowhere"}) { position } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&bad), Some("BAD_USER_INPUT"), "{bad}");
    let fields: Vec<&str> = bad["errors"][0]["extensions"]["fieldViolations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["nhsNumber", "givenName", "dateOfBirth", "postcode"]);

    // A malformed NHS number is refused naming the argument; an unknown one is null.
    let malformed = app.graphql(Some(&nurse), RECORD, json!({"nhs": "999 000 002"})).await;
    assert_eq!(code(&malformed), Some("BAD_USER_INPUT"), "{malformed}");
    assert_eq!(malformed["errors"][0]["extensions"]["fieldViolations"][0]["field"], "nhsNumber");
    let unknown = app.data(&nurse, RECORD, json!({"nhs": "9990000042"})).await;
    assert_eq!(unknown["patient"], Value::Null);

    // Found three ways; a half-given search is refused naming the missing field.
    let search = "query($nhs: String, $family: String, $born: String, $postcode: String) {
        searchPatients(nhsNumber: $nhs, familyName: $family, dateOfBirth: $born, postcode: $postcode) { nhsNumber } }";
    for args in [
        json!({"nhs": NHS}),
        json!({"family": "brackenbury", "born": "1939-05-17"}),
        json!({"postcode": "LS62QB"}),
    ] {
        let found = app.data(&nurse, search, args.clone()).await;
        assert_eq!(found["searchPatients"], json!([{"nhsNumber": NHS}]), "{args}");
    }
    let nobody = app.data(&nurse, search, json!({"family": "Brackenbury", "born": "1939-05-18"})).await;
    assert_eq!(nobody["searchPatients"], json!([]));
    let half = app
        .graphql(Some(&nurse), r#"{ searchPatients(familyName: "Brackenbury") { nhsNumber } }"#, json!({}))
        .await;
    assert_eq!(code(&half), Some("BAD_USER_INPUT"));
    assert_eq!(half["errors"][0]["extensions"]["fieldViolations"][0]["field"], "dateOfBirth");

    // Admitted, then followed live while a frailty flag is raised.
    app.data(
        &nurse,
        r#"mutation($nhs: String!) { admitPatient(input: {bedId: "RXT01-W1-B02", nhsNumber: $nhs, givenName: "Ottoline",
            familyName: "Brackenbury"}) { stayId } }"#,
        json!({"nhs": NHS}),
    )
    .await;
    let mut live = app.subscribe(&nurse,
        &format!(r#"subscription {{ patientSummary(nhsNumber: "{NHS}") {{ activeFlagKinds location {{ bedId }} }} }}"#),
    )
    .await;
    let first = live.next_data().await;
    assert_eq!(
        first["patientSummary"],
        json!({"activeFlagKinds": [], "location": {"bedId": "RXT01-W1-B02"}})
    );
    let mut ward = app
        .subscribe(
            &nurse,
            r#"subscription { bedBoard(wardId: "RXT01-W1") { id status patient { activeFlags } } }"#,
        )
        .await;

    let raised = app
        .data(
            &nurse,
            r#"mutation($nhs: String!) { raiseFlag(input: {nhsNumber: $nhs, kind: FRAILTY, frailtyScore: 7, severity: HIGH,
                reason: "CFS 7 on admission", reviewOn: "2099-01-01"}) { flagId visible patient { activeFlagKinds } } }"#,
            json!({"nhs": NHS}),
        )
        .await;
    assert_eq!(raised["raiseFlag"]["patient"]["activeFlagKinds"], json!(["FRAILTY"]));
    let pushed = live.next_data().await;
    assert_eq!(pushed["patientSummary"]["activeFlagKinds"], json!(["FRAILTY"]));
    // The ward's board pushes the patient's bed again, with the flag.
    let bed = ward.next_data().await;
    assert_eq!(
        bed["bedBoard"],
        json!({"id": "RXT01-W1-B02", "status": "OCCUPIED", "patient": {"activeFlags": ["FRAILTY"]}})
    );

    let record = app.data(&nurse, RECORD, json!({"nhs": NHS})).await;
    let patient = &record["patient"];
    let flag = &patient["flags"][0];
    assert_eq!(flag["snomedCode"], "925861000000102", "CFS 7 is severe frailty");
    assert_eq!(flag["raisedBy"], json!({"userId": "e2e.ward_nurse", "organisation": "RXA"}));
    assert_eq!(
        patient["location"],
        json!({"siteId": "RXT01", "wardId": "RXT01-W1", "bedId": "RXT01-W1-B02", "bedLabel": "Bay 1",
               "wardName": "Larch Ward", "organisation": "RXA"})
    );
    let events: Vec<&str> =
        patient["timeline"].as_array().unwrap().iter().map(|e| e["eventType"].as_str().unwrap()).collect();
    assert_eq!(events, ["PatientRegistered", "PatientAdmitted", "FlagRaised"]);

    // The bed board shows the flag kind on the patient's bed.
    let board = app
        .data(
            &nurse,
            r#"{ bed(id: "RXT01-W1-B02") { status patient { nhsNumber activeFlags } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(board["bed"]["patient"], json!({"nhsNumber": NHS, "activeFlags": ["FRAILTY"]}));

    // A second frailty flag while one is active is refused; a flag needs its score.
    let twice = app
        .graphql(
            Some(&nurse),
            r#"mutation($nhs: String!) { raiseFlag(input: {nhsNumber: $nhs, kind: FRAILTY, frailtyScore: 8, severity: HIGH,
                reason: "again"}) { flagId } }"#,
            json!({"nhs": NHS}),
        )
        .await;
    assert_eq!(code(&twice), Some("CONFLICT"), "{twice}");
    let unscored = app
        .graphql(
            Some(&nurse),
            r#"mutation($nhs: String!) { raiseFlag(input: {nhsNumber: $nhs, kind: FRAILTY, severity: HIGH, reason: "x"}) { flagId } }"#,
            json!({"nhs": NHS}),
        )
        .await;
    assert_eq!(
        unscored["errors"][0]["extensions"]["fieldViolations"][0]["field"], "frailtyScore",
        "{unscored}"
    );

    // After a restart the record is the same, rebuilt from the log.
    drop((live, ward));
    let before = app.data(&nurse, RECORD, json!({"nhs": NHS})).await;
    assert!(app.terminate(), "careflow stops cleanly");
    let app = Careflow::start(dir.path(), &[]);
    assert_eq!(app.data(&nurse, RECORD, json!({"nhs": NHS})).await, before);
}

#[tokio::test]
async fn dissent_hides_a_patient_from_organisations_not_caring_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &[]);
    let (admin, clerk, nurse) = (token("admin"), token("ward_clerk"), token("ward_nurse"));
    let outsider = token_in("community_nurse", "RYC");
    configure(&app, &admin).await;
    let registered = register(&app, &clerk).await;
    assert!(registered.get("errors").is_none(), "{registered}");

    // Without dissent, another organisation's professional may see the record.
    let seen = app.graphql(Some(&outsider), RECORD, json!({"nhs": NHS})).await;
    assert_eq!(seen["data"]["patient"]["nhsNumber"], NHS, "{seen}");

    let dissent = app
        .data(
            &clerk,
            r#"mutation($nhs: String!) { recordSharingDissent(input: {nhsNumber: $nhs, note: "Told at the front desk"}) { visible } }"#,
            json!({"nhs": NHS}),
        )
        .await;
    assert_eq!(dissent["recordSharingDissent"]["visible"], true);

    // Not admitted anywhere and RXA is not their GP: nobody at RXA or RYC has a care relationship.
    for who in [&nurse, &outsider] {
        let hidden = app.graphql(Some(who), RECORD, json!({"nhs": NHS})).await;
        assert_eq!(code(&hidden), Some("FORBIDDEN"), "{hidden}");
        assert!(!hidden.to_string().contains("Brackenbury"), "nothing identifying leaks: {hidden}");
    }

    // Admitted at RXA: RXA's staff now care for them, RYC's still do not.
    app.data(
        &nurse,
        r#"mutation($nhs: String!) { admitPatient(input: {bedId: "RXT01-W1-B01", nhsNumber: $nhs, givenName: "Ottoline",
            familyName: "Brackenbury"}) { stayId } }"#,
        json!({"nhs": NHS}),
    )
    .await;
    let caring = app.data(&nurse, RECORD, json!({"nhs": NHS})).await;
    assert_eq!(caring["patient"]["sharingDissent"], true);
    let outside = app.graphql(Some(&outsider), RECORD, json!({"nhs": NHS})).await;
    assert_eq!(code(&outside), Some("FORBIDDEN"), "{outside}");
    let search =
        app.data(&outsider, r#"{ searchPatients(postcode: "LS6 2QB") { nhsNumber } }"#, json!({})).await;
    assert_eq!(search["searchPatients"], json!([]), "left out of searches");
    let bed = r#"{ bed(id: "RXT01-W1-B01") { status patient { nhsNumber givenName } } }"#;
    let board = app.data(&outsider, bed, json!({})).await;
    assert_eq!(board["bed"], json!({"status": "OCCUPIED", "patient": null}), "the bed board hides who it is");
    let board = app.data(&nurse, bed, json!({})).await;
    assert_eq!(board["bed"]["patient"]["nhsNumber"], NHS);

    // Nor may RYC change the record to give itself a care relationship, or lift the dissent;
    // RXA, caring for them, may change it.
    for mutation in [
        r#"mutation($nhs: String!) { updatePatientDemographics(input: {nhsNumber: $nhs, gpPractice: "RYC"}) { visible } }"#,
        r#"mutation($nhs: String!) { withdrawSharingDissent(input: {nhsNumber: $nhs}) { visible } }"#,
        r#"mutation($nhs: String!) { recordDeath(input: {nhsNumber: $nhs, dateOfDeath: "2026-11-30"}) { visible } }"#,
    ] {
        let refused = app.graphql(Some(&token_in("ward_clerk", "RYC")), mutation, json!({"nhs": NHS})).await;
        assert_eq!(code(&refused), Some("FORBIDDEN"), "{refused}");
    }
    let changed = app
        .data(
            &clerk,
            r#"mutation($nhs: String!) { updatePatientDemographics(input: {nhsNumber: $nhs, postcode: "LS6 2QB"}) { visible } }"#,
            json!({"nhs": NHS}),
        )
        .await;
    assert_eq!(changed["updatePatientDemographics"]["visible"], true);

    // Roles without patient records see none, dissent or not; housekeeping sees the bed only.
    let analyst = app.graphql(Some(&token("analyst")), RECORD, json!({"nhs": NHS})).await;
    assert_eq!(code(&analyst), Some("FORBIDDEN"));
    let housekeeping = app.data(&token("housekeeping"), bed, json!({})).await;
    assert_eq!(housekeeping["bed"], json!({"status": "OCCUPIED", "patient": null}));

    // A subscriber from outside is refused; withdrawn, the record is shared again.
    app.data(
        &clerk,
        r#"mutation($nhs: String!) { withdrawSharingDissent(input: {nhsNumber: $nhs}) { visible } }"#,
        json!({"nhs": NHS}),
    )
    .await;
    let seen = app.graphql(Some(&outsider), RECORD, json!({"nhs": NHS})).await;
    assert_eq!(seen["data"]["patient"]["sharingDissent"], false, "{seen}");
    let mut live = app
        .subscribe(
            &outsider,
            &format!(
                r#"subscription {{ patientSummary(nhsNumber: "{NHS}") {{ nhsNumber sharingDissent }} }}"#
            ),
        )
        .await;
    assert_eq!(live.next_data().await["patientSummary"]["sharingDissent"], false);
    app.data(
        &clerk,
        r#"mutation($nhs: String!) { recordSharingDissent(input: {nhsNumber: $nhs}) { visible } }"#,
        json!({"nhs": NHS}),
    )
    .await;
    let ended = live.next_payload().await;
    let ended = ended.get(0).unwrap_or(&ended).clone();
    let code =
        ended["extensions"]["code"].as_str().or_else(|| ended["errors"][0]["extensions"]["code"].as_str());
    assert_eq!(code, Some("FORBIDDEN"), "the subscription ends once dissent is recorded: {ended}");
}
