//! The trusted assessment leg of discharge to assess through the real binary, over GraphQL: a
//! patient marked medically optimised gives the council team its "complete a trusted
//! assessment" task; the social worker starts the assessment from it; a ward nurse and the
//! social worker, each watching it live, save different sections at the same moment (both
//! succeed, and each sees the other's answers and where they are); a therapist's stale save
//! of the nurse's section gets CONFLICT with the section as she left it; bad answers are named;
//! every required section is signed off by a role that may; the assessment is submitted to a
//! care provider, which completes the task; the provider returns it with reasons, and accepts
//! it once submitted again.

use std::time::{Duration, Instant};

use careflow_domain::assessments::template::SHIPPED;
use serde_json::{Value, json};

use crate::helpers::flow::{configure, configure_team, eventually};
use crate::helpers::{Careflow, Subscription, token_for, token_in};

const SECTIONS: &str = r#"query($id: ID!) { assessment(id: $id) { status awaitingSignOff
    sections { id version canEdit canSignOff editors signers
      questions { id kind required options { value } levels { score } min max }
      answers { questionId text choice choices number date yesNo score } } } }"#;

const LIVE: &str = r#"subscription { assessment(id: "ID") { status
    sections { id version answers { questionId score text } savedBy { userId } }
    presence { userId sectionId } } }"#;

/// A valid answer to `question`, as GraphQL input.
fn answer_to(question: &Value) -> Value {
    let id = question["id"].clone();
    match question["kind"].as_str().unwrap() {
        "TEXT" => json!({"questionId": id, "text": "Managing with support"}),
        "CHOICE" => json!({"questionId": id, "choice": question["options"][0]["value"]}),
        "MULTI_CHOICE" => json!({"questionId": id, "choices": [question["options"][0]["value"]]}),
        "NUMBER" => json!({"questionId": id, "number": question["min"]}),
        "DATE" => json!({"questionId": id, "date": "2030-01-03"}),
        "YES_NO" => json!({"questionId": id, "yesNo": true}),
        "SCORE" => json!({"questionId": id, "score": question["levels"][0]["score"]}),
        other => panic!("unknown kind {other}"),
    }
}

const SAVE: &str = r#"mutation($input: SaveAssessmentSectionInput!) { saveAssessmentSection(input: $input) {
    visible assessment { sections { id version } } } }"#;

const SIGN: &str = r#"mutation($id: ID!, $section: String!, $version: Int!) { signOffAssessmentSection(input:
    {assessmentId: $id, sectionId: $section, version: $version}) { visible } }"#;

/// The first push of `subscription` for which `done` holds.
async fn until_pushed(subscription: &mut Subscription, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let data = subscription.next_data().await;
        if done(&data["assessment"]) {
            return data["assessment"].clone();
        }
        assert!(Instant::now() < deadline, "not pushed in time: {data}");
    }
}

fn section<'a>(assessment: &'a Value, id: &str) -> &'a Value {
    assessment["sections"].as_array().unwrap().iter().find(|s| s["id"] == id).unwrap()
}

#[tokio::test]
async fn a_trusted_assessment_is_completed_together_live_and_completes_its_task() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &[]);
    let (trust_admin, council_admin) = (token_in("admin", "RXA"), token_in("admin", "RYC"));
    configure(&app, &trust_admin).await;
    configure_team(&app, &council_admin, "RYC-HSWT", "SOCIAL_CARE", &[], &["sw.ryc"]).await;
    let rule = app
        .graphql(
            Some(&council_admin),
            r#"mutation { setRoutingRule(input: {ruleId: "d2a", name: "Discharges", taskKind: TRUSTED_ASSESSMENT,
                teamId: "RYC-HSWT"}) { visible } }"#,
            json!({}),
        )
        .await;
    assert!(rule.get("errors").is_none(), "{rule}");

    // The admin publishes the shipped template; a broken one is refused, naming the field.
    let (template_id, content) = SHIPPED[0];
    let publish = r#"mutation($id: ID!, $json: String!) { publishAssessmentTemplate(input: {templateId: $id, contentJson: $json}) {
        visible template { version sections { id } } } }"#;
    let broken =
        app.graphql(Some(&trust_admin), publish, json!({"id": "broken", "json": "{\"title\": 1"})).await;
    assert_eq!(broken["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{broken}");
    assert_eq!(broken["errors"][0]["extensions"]["fieldViolations"][0]["field"], "contentJson", "{broken}");
    let nurse = token_for("nurse.okafor", "ward_nurse", "RXA", &[]);
    let denied = app.graphql(Some(&nurse), publish, json!({"id": template_id, "json": content})).await;
    assert_eq!(denied["errors"][0]["extensions"]["code"], "FORBIDDEN", "{denied}");
    let published = app.data(&trust_admin, publish, json!({"id": template_id, "json": content})).await;
    assert_eq!(published["publishAssessmentTemplate"]["template"]["version"], 1);
    let listed = app.data(&nurse, "{ assessmentTemplates { id version title } }", json!({})).await;
    assert_eq!(listed["assessmentTemplates"][0]["id"], template_id, "{listed}");

    // Medically optimised → the council team's task.
    let (social_worker, therapist) =
        (token_for("sw.ryc", "social_worker", "RYC", &[]), token_for("ot.ryc", "therapist", "RYC", &[]));
    let clerk = token_in("ward_clerk", "RXA");
    app.data(
        &clerk,
        r#"mutation { registerPatient(input: {nhsNumber: "9990000034", givenName: "Wendeline", familyName: "Archdeacon",
            dateOfBirth: "1936-02-11", gender: FEMALE, postcode: "BD7 1DP"}) { visible } }"#,
        json!({}),
    )
    .await;
    let admitted = app
        .data(
            &nurse,
            r#"mutation { admitPatient(input: {bedId: "RXT01-W1-B01", nhsNumber: "9990000034", givenName: "Wendeline",
                familyName: "Archdeacon"}) { stayId } }"#,
            json!({}),
        )
        .await;
    let stay = admitted["admitPatient"]["stayId"].as_str().unwrap().to_owned();
    app.data(
        &nurse,
        r#"mutation($stay: ID!) { markMedicallyOptimised(input: {stayId: $stay, dischargeReadyDate: "2030-01-02", pathway: 1}) { position } }"#,
        json!({"stay": stay}),
    )
    .await;
    let inbox = r#"query { teamInbox(teamId: "RYC-HSWT") { id kind status } }"#;
    let inbox_now = eventually(&app, &social_worker, inbox, json!({}), |d| {
        d["teamInbox"].as_array().is_some_and(|rows| rows.len() == 1)
    })
    .await;
    let task = inbox_now["teamInbox"][0]["id"].as_str().unwrap().to_owned();

    // The social worker starts the assessment from the task; the same start sent twice at
    // once is one assessment.
    let start = r#"mutation($task: ID!, $template: ID!) { startAssessment(input: {commandId: "6a0c3f3e-4f4e-4d7b-9b8e-2f6d1c1e0a11", nhsNumber: "9990000034",
        templateId: $template, taskId: $task}) { assessmentId visible assessment { status teamId templateVersion sections { id } } } }"#;
    let vars = json!({"task": task, "template": template_id});
    let (first, second) =
        tokio::join!(app.data(&social_worker, start, vars.clone()), app.data(&social_worker, start, vars));
    let id = first["startAssessment"]["assessmentId"].as_str().unwrap().to_owned();
    assert_eq!(second["startAssessment"]["assessmentId"], id.as_str(), "one assessment for one command");
    let started = &first["startAssessment"]["assessment"];
    assert_eq!(
        (started["status"].as_str(), started["teamId"].as_str()),
        (Some("IN_PROGRESS"), Some("RYC-HSWT"))
    );
    assert_eq!(started["sections"].as_array().unwrap().len(), 12, "every section of the template");
    let team = app
        .data(&social_worker, r#"{ teamAssessments(teamId: "RYC-HSWT") { id status required } }"#, json!({}))
        .await;
    assert_eq!(team["teamAssessments"][0]["id"], id.as_str(), "{team}");
    let theirs =
        app.data(&nurse, r#"{ patientAssessments(nhsNumber: "9990000034") { id } }"#, json!({})).await;
    assert_eq!(theirs["patientAssessments"][0]["id"], id.as_str(), "{theirs}");

    // Both watch it; the nurse goes into the frailty section and the social worker sees her there.
    let live = LIVE.replace("ID", &id);
    let mut nurse_live = app.subscribe(&nurse, &live).await;
    let mut sw_live = app.subscribe(&social_worker, &live).await;
    nurse_live.next_data().await;
    sw_live.next_data().await;
    let presence = r#"mutation($id: ID!, $section: String) { setAssessmentPresence(input: {assessmentId: $id, sectionId: $section}) { userId sectionId } }"#;
    app.data(&nurse, presence, json!({"id": id, "section": "frailty"})).await;
    app.data(&social_worker, presence, json!({"id": id, "section": "goals-and-wishes"})).await;
    until_pushed(&mut sw_live, |a| {
        a["presence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["userId"] == "nurse.okafor" && p["sectionId"] == "frailty")
    })
    .await;
    let unknown = app.graphql(Some(&nurse), presence, json!({"id": id, "section": "no-such-section"})).await;
    assert_eq!(unknown["errors"][0]["extensions"]["fieldViolations"][0]["field"], "sectionId", "{unknown}");

    // Different sections at the same moment: both saved, and each sees the other's answers.
    let frailty = json!({"assessmentId": id, "sectionId": "frailty", "baseVersion": 0,
        "answers": [{"questionId": "clinical-frailty-scale", "score": 7}]});
    let goals = json!({"assessmentId": id, "sectionId": "goals-and-wishes", "baseVersion": 0,
        "answers": [{"questionId": "what-matters", "text": "To be home for my garden"}]});
    let (nurse_saved, sw_saved) = tokio::join!(
        app.graphql(Some(&nurse), SAVE, json!({"input": frailty})),
        app.graphql(Some(&social_worker), SAVE, json!({"input": goals})),
    );
    assert!(nurse_saved.get("errors").is_none(), "{nurse_saved}");
    assert!(sw_saved.get("errors").is_none(), "{sw_saved}");
    let seen_by_nurse =
        until_pushed(&mut nurse_live, |a| section(a, "goals-and-wishes")["version"] == 1).await;
    assert_eq!(section(&seen_by_nurse, "goals-and-wishes")["answers"][0]["text"], "To be home for my garden");
    let seen_by_sw = until_pushed(&mut sw_live, |a| section(a, "frailty")["version"] == 1).await;
    assert_eq!(section(&seen_by_sw, "frailty")["answers"][0]["score"], 7);
    assert_eq!(section(&seen_by_sw, "frailty")["savedBy"]["userId"], "nurse.okafor");

    // The therapist saves the frailty section on the version she read (0): CONFLICT, with the
    // section as the nurse left it.
    let stale = json!({"assessmentId": id, "sectionId": "frailty", "baseVersion": 0,
        "answers": [{"questionId": "clinical-frailty-scale", "score": 5}]});
    let conflict = app.graphql(Some(&therapist), SAVE, json!({"input": stale})).await;
    let error = &conflict["errors"][0];
    assert_eq!(error["extensions"]["code"], "CONFLICT", "{conflict}");
    let current = &error["extensions"]["section"];
    assert_eq!(
        (current["version"].as_u64(), current["savedBy"]["userId"].as_str()),
        (Some(1), Some("nurse.okafor"))
    );
    assert_eq!(
        current["answers"][0],
        json!({"questionId": "clinical-frailty-scale", "score": 7}),
        "{conflict}"
    );

    // Bad answers are named by their question, and nothing is stored.
    let bad = json!({"assessmentId": id, "sectionId": "frailty", "baseVersion": 1, "answers": [
        {"questionId": "clinical-frailty-scale", "score": 12},
        {"questionId": "no-such-question", "text": "x"}]});
    let refused = app.graphql(Some(&nurse), SAVE, json!({"input": bad})).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
    let mut fields: Vec<&str> = refused["errors"][0]["extensions"]["fieldViolations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["answers.clinical-frailty-scale", "answers.no-such-question"], "{refused}");
    let two = json!({"assessmentId": id, "sectionId": "frailty", "baseVersion": 1, "answers": [
        {"questionId": "clinical-frailty-scale", "score": 6, "text": "six"}]});
    let refused = app.graphql(Some(&nurse), SAVE, json!({"input": two})).await;
    assert_eq!(
        refused["errors"][0]["extensions"]["fieldViolations"][0]["field"],
        "answers.clinical-frailty-scale"
    );

    // Too early to submit.
    let submit = r#"mutation($id: ID!, $to: [String!]!) { submitAssessment(input: {assessmentId: $id, to: $to}) {
        visible assessment { status submittedTo } } }"#;
    let early = app.graphql(Some(&social_worker), submit, json!({"id": id, "to": ["VN123"]})).await;
    assert_eq!(early["errors"][0]["extensions"]["code"], "CONFLICT", "{early}");

    // Every section answered by a role that may edit it, and signed off by one that may sign.
    let by_role = |role: &str| match role {
        "ward_nurse" => Some(nurse.clone()),
        "social_worker" => Some(social_worker.clone()),
        "therapist" => Some(therapist.clone()),
        _ => None,
    };
    let form = app.data(&social_worker, SECTIONS, json!({"id": id})).await;
    for section in form["assessment"]["sections"].as_array().unwrap() {
        let roles = |key: &str| {
            section[key]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        };
        let editor = roles("editors").iter().find_map(|r| by_role(r)).unwrap();
        let signer = roles("signers").iter().find_map(|r| by_role(r)).unwrap();
        let version = section["version"].as_u64().unwrap();
        let answers: Vec<Value> = section["questions"].as_array().unwrap().iter().map(answer_to).collect();
        let input = json!({"assessmentId": id, "sectionId": section["id"], "baseVersion": version, "answers": answers});
        let saved = app.graphql(Some(&editor), SAVE, json!({"input": input})).await;
        assert!(saved.get("errors").is_none(), "{saved}");
        let signed = app
            .graphql(Some(&signer), SIGN, json!({"id": id, "section": section["id"], "version": version + 1}))
            .await;
        assert!(signed.get("errors").is_none(), "{signed}");
    }
    let ready = app.data(&social_worker, SECTIONS, json!({"id": id})).await;
    assert_eq!(ready["assessment"]["awaitingSignOff"], json!([]), "{ready}");

    // Submitted to the care provider: the task is completed.
    let submitted = app.data(&social_worker, submit, json!({"id": id, "to": ["VN123"]})).await;
    assert_eq!(submitted["submitAssessment"]["assessment"]["status"], "SUBMITTED");
    let task_status = r#"query($id: ID!) { task(id: $id) { task { status } } }"#;
    eventually(&app, &social_worker, task_status, json!({"id": task}), |d| {
        d["task"]["task"]["status"] == "COMPLETED"
    })
    .await;
    until_pushed(&mut sw_live, |a| a["status"] == "SUBMITTED").await;

    // The provider it was submitted to sees it; another does not.
    let provider = token_for("manager.vn123", "care_provider", "VN123", &[]);
    let other = token_for("manager.vn999", "care_provider", "VN999", &[]);
    let read = r#"query($id: ID!) { assessment(id: $id) { status nhsNumber } }"#;
    let seen = app.data(&provider, read, json!({"id": id})).await;
    assert_eq!(seen["assessment"]["status"], "SUBMITTED");
    assert_eq!(seen["assessment"]["nhsNumber"], Value::Null, "a provider does not see who it is");
    let hidden = app.graphql(Some(&other), read, json!({"id": id})).await;
    assert_eq!(hidden["errors"][0]["extensions"]["code"], "FORBIDDEN", "{hidden}");

    // Returned with reasons, submitted again, accepted.
    let returned = app
        .data(
            &provider,
            r#"mutation($id: ID!) { returnAssessment(input: {assessmentId: $id, reasons: "Say how many carers transfers need"}) {
                assessment { status returned { organisation note } } } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(returned["returnAssessment"]["assessment"]["status"], "RETURNED", "{returned}");
    assert_eq!(returned["returnAssessment"]["assessment"]["returned"]["organisation"], "VN123");
    let not_theirs = app
        .graphql(
            Some(&other),
            r#"mutation($id: ID!) { acceptAssessment(input: {assessmentId: $id}) { visible } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(not_theirs["errors"][0]["extensions"]["code"], "FORBIDDEN", "{not_theirs}");
    app.data(&social_worker, submit, json!({"id": id, "to": ["VN123"]})).await;
    let accepted = app
        .data(
            &provider,
            r#"mutation($id: ID!) { acceptAssessment(input: {assessmentId: $id}) { assessment { status acceptedBy } } }"#,
            json!({"id": id}),
        )
        .await;
    assert_eq!(accepted["acceptAssessment"]["assessment"]["status"], "ACCEPTED", "{accepted}");
    let team = app.data(&social_worker, r#"{ teamAssessments(teamId: "RYC-HSWT") { id } }"#, json!({})).await;
    assert_eq!(team["teamAssessments"], json!([]), "accepted: no longer in progress");

    // The nurse goes away: the social worker sees her presence go.
    drop(nurse_live);
    until_pushed(&mut sw_live, |a| {
        a["presence"].as_array().unwrap().iter().all(|p| p["userId"] != "nurse.okafor")
    })
    .await;
}

#[tokio::test]
async fn the_shipped_templates_and_frailty_rule_are_seeded_once_and_keep_an_admins_changes() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &["--seed-templates", "RYC"]);
    let (admin, nurse) = (token_in("admin", "RYC"), token_for("nurse.ryc", "ward_nurse", "RYC", &[]));
    let templates = "{ assessmentTemplates { id version organisation } }";
    let seeded = app.data(&nurse, templates, json!({})).await;
    let rows = seeded["assessmentTemplates"].as_array().unwrap();
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["care-home-trusted-assessment", "reablement-trusted-assessor"], "{seeded}");
    assert!(rows.iter().all(|r| r["version"] == 1 && r["organisation"] == "RYC"), "{seeded}");

    // The frailty rule is in force: a signed-off score of 7 raises the flag.
    app.data(
        &nurse,
        r#"mutation { registerPatient(input: {nhsNumber: "9990000042", givenName: "Hesketh", familyName: "Tolliver",
            dateOfBirth: "1931-08-09", gender: MALE, postcode: "BD9 4RT"}) { visible } }"#,
        json!({}),
    )
    .await;
    let started = app
        .data(
            &nurse,
            r#"mutation { startAssessment(input: {nhsNumber: "9990000042", templateId: "reablement-trusted-assessor"}) { assessmentId } }"#,
            json!({}),
        )
        .await;
    let id = started["startAssessment"]["assessmentId"].as_str().unwrap().to_owned();
    let input = json!({"assessmentId": id, "sectionId": "frailty", "baseVersion": 0,
        "answers": [{"questionId": "clinical-frailty-scale", "score": 7}]});
    app.data(&nurse, SAVE, json!({"input": input})).await;
    app.data(&nurse, SIGN, json!({"id": id, "section": "frailty", "version": 1})).await;
    let flags = r#"{ patient(nhsNumber: "9990000042") { flags { kind severity raisedBy { rule } } } }"#;
    eventually(&app, &nurse, flags, json!({}), |d| {
        d["patient"]["flags"].as_array().is_some_and(|f| {
            f.iter().any(|f| f["kind"] == "FRAILTY" && f["raisedBy"]["rule"] == "cfs-frailty")
        })
    })
    .await;

    // The admin changes a template; later starts keep it.
    let (_, json) = SHIPPED[1];
    let mut content: Value = serde_json::from_str(json).unwrap();
    content["title"] = json!("Care home trusted assessment (Eastbrook)");
    let publish = r#"mutation($json: String!) { publishAssessmentTemplate(input: {templateId: "care-home-trusted-assessment", contentJson: $json}) { visible } }"#;
    app.data(&admin, publish, json!({"json": content.to_string()})).await;
    drop(app);
    let app = Careflow::start(dir.path(), &["--seed-templates", "RYC"]);
    let after = app
        .data(
            &nurse,
            r#"{ assessmentTemplate(id: "care-home-trusted-assessment") { version title } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        after["assessmentTemplate"],
        json!({"version": 2, "title": "Care home trusted assessment (Eastbrook)"})
    );
    drop(app);

    // Another organisation cannot take them over by seeding: they stay RYC's.
    let app = Careflow::start(dir.path(), &["--seed-templates", "RXA"]);
    let still = app.data(&nurse, templates, json!({})).await;
    assert!(
        still["assessmentTemplates"].as_array().unwrap().iter().all(|r| r["organisation"] == "RYC"),
        "{still}"
    );
}
