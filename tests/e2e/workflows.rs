//! The workflows through the real binary: a nurse marks a patient medically optimised on
//! pathway 1; the council team's member sees the trusted assessment task arrive in their inbox
//! over the subscription (routed by the council's rule), claims it, hands it to another team,
//! which completes it; the patient is discharged and housekeeping's inbox gets the cleaning
//! task; completing it cleans the bed; after a restart everything is as it was and nothing is
//! doubled.

use serde_json::{Value, json};

use crate::helpers::flow::{configure, configure_team, eventually};
use crate::helpers::{Careflow, token_for, token_in};

const INBOX: &str = r#"query($team: ID!) { teamInbox(teamId: $team) { id title kind status nhsNumber } }"#;

#[tokio::test]
async fn discharge_to_assess_hands_work_across_organisations_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &[]);
    let (trust_admin, council_admin) = (token_in("admin", "RXA"), token_in("admin", "RYC"));
    configure(&app, &trust_admin).await;
    configure_team(&app, &trust_admin, "RXA-LARCH", "WARD", &["RXT01-W1"], &["nurse.rxa"]).await;
    configure_team(&app, &trust_admin, "RXA-HOUSEKEEPING", "HOUSEKEEPING", &["RXT01-W1"], &["hk.rxa"]).await;
    configure_team(&app, &council_admin, "RYC-HSWT", "SOCIAL_CARE", &[], &["sw.ryc"]).await;
    configure_team(&app, &council_admin, "RYC-REABLEMENT", "THERAPY", &[], &["ot.ryc"]).await;
    let rule = app
        .graphql(
            Some(&council_admin),
            r#"mutation { setRoutingRule(input: {ruleId: "d2a-bradford", name: "Bradford discharges", taskKind: TRUSTED_ASSESSMENT,
                pathways: [1, 2, 3], districts: ["BD7"], teamId: "RYC-HSWT", rank: 10}) { visible id } }"#,
            json!({}),
        )
        .await;
    assert!(rule.get("errors").is_none(), "{rule}");

    let (nurse, social_worker) =
        (token_for("nurse.rxa", "ward_nurse", "RXA", &[]), token_for("sw.ryc", "social_worker", "RYC", &[]));
    let (therapist, housekeeper) =
        (token_for("ot.ryc", "therapist", "RYC", &[]), token_for("hk.rxa", "housekeeping", "RXA", &[]));
    let clerk = token_in("ward_clerk", "RXA");
    let registered = app
        .graphql(
            Some(&clerk),
            r#"mutation { registerPatient(input: {nhsNumber: "9990000026", givenName: "Ottoline", familyName: "Brackenbury",
                dateOfBirth: "1939-05-17", gender: FEMALE, postcode: "BD7 1DP"}) { visible } }"#,
            json!({}),
        )
        .await;
    assert!(registered.get("errors").is_none(), "{registered}");
    let admitted = app
        .data(
            &nurse,
            r#"mutation { admitPatient(input: {bedId: "RXT01-W1-B01", nhsNumber: "9990000026", givenName: "Ottoline",
                familyName: "Brackenbury"}) { stayId } }"#,
            json!({}),
        )
        .await;
    let stay = admitted["admitPatient"]["stayId"].as_str().unwrap().to_owned();

    // The council's social worker watches the team's inbox; the nurse marks the patient
    // medically optimised on pathway 1, and the task arrives.
    let mut inbox = app
        .subscribe(
            &social_worker,
            r#"subscription { teamInbox(teamId: "RYC-HSWT") { id kind status nhsNumber } }"#,
        )
        .await;
    assert_eq!(inbox.next_data().await["teamInbox"], json!([]));
    app.data(
        &nurse,
        r#"mutation($stay: ID!) { markMedicallyOptimised(input: {stayId: $stay, dischargeReadyDate: "2030-01-02", pathway: 1}) { position } }"#,
        json!({"stay": stay}),
    )
    .await;
    let arrived = inbox.next_data().await;
    let rows = arrived["teamInbox"].as_array().unwrap();
    assert_eq!(rows.len(), 1, "{arrived}");
    assert_eq!(
        (rows[0]["kind"].as_str(), rows[0]["nhsNumber"].as_str()),
        (Some("TRUSTED_ASSESSMENT"), Some("9990000026"))
    );
    let task = rows[0]["id"].as_str().unwrap().to_owned();
    let detail = app
        .data(&social_worker, r#"query($id: ID!) { task(id: $id) { raisedByRule ruleVersion task { due priority } links { kind id } } }"#, json!({"id": task}))
        .await;
    assert_eq!(
        (detail["task"]["raisedByRule"].as_str(), detail["task"]["ruleVersion"].as_u64()),
        (Some("d2a-bradford"), Some(1))
    );
    assert_eq!(detail["task"]["links"], json!([{"kind": "stay", "id": stay}]));

    // The patient dissents from sharing: the council still sees her record, because it holds an
    // open task for her (a care relationship); another council does not.
    let dissent = app
        .graphql(
            Some(&clerk),
            r#"mutation { recordSharingDissent(input: {nhsNumber: "9990000026"}) { visible } }"#,
            json!({}),
        )
        .await;
    assert!(dissent.get("errors").is_none(), "{dissent}");
    let record =
        r#"{ patient(nhsNumber: "9990000026") { familyName openTasks { id kind teamId organisation } } }"#;
    let seen = app.data(&social_worker, record, json!({})).await;
    assert_eq!(seen["patient"]["familyName"], "Brackenbury");
    assert_eq!(
        seen["patient"]["openTasks"],
        json!([{"id": task, "kind": "TRUSTED_ASSESSMENT", "teamId": "RYC-HSWT", "organisation": "RYC"}])
    );
    let elsewhere = token_for("sw.other", "social_worker", "LA002", &[]);
    let hidden = app.graphql(Some(&elsewhere), record, json!({})).await;
    assert_eq!(hidden["errors"][0]["extensions"]["code"], "FORBIDDEN", "{hidden}");

    // Claimed, handed to the reablement team, completed there.
    for (token, mutation) in [(&social_worker, "claimTask")] {
        let done = app
            .graphql(
                Some(token),
                &format!(r#"mutation($t: ID!) {{ {mutation}(input: {{taskId: $t}}) {{ visible }} }}"#),
                json!({"t": task}),
            )
            .await;
        assert!(done.get("errors").is_none(), "{done}");
    }
    let handed = app
        .graphql(Some(&social_worker), r#"mutation($t: ID!) { handOffTask(input: {taskId: $t, toTeamId: "RYC-REABLEMENT", note: "OT first"}) { visible } }"#, json!({"t": task}))
        .await;
    assert!(handed.get("errors").is_none(), "{handed}");
    for (token, mutation) in [(&therapist, "acceptHandOff")] {
        let done = app
            .graphql(
                Some(token),
                &format!(r#"mutation($t: ID!) {{ {mutation}(input: {{taskId: $t}}) {{ visible }} }}"#),
                json!({"t": task}),
            )
            .await;
        assert!(done.get("errors").is_none(), "{done}");
    }
    let completed = app
        .graphql(Some(&therapist), r#"mutation($t: ID!) { completeTask(input: {taskId: $t, outcome: "Assessed: reablement, 10 h a week"}) { visible } }"#, json!({"t": task}))
        .await;
    assert!(completed.get("errors").is_none(), "{completed}");

    // Discharged: housekeeping's inbox gets the bed (and not the patient).
    app.data(
        &nurse,
        r#"mutation($stay: ID!) { dischargePatient(input: {stayId: $stay, destination: USUAL_RESIDENCE, pathway: 1}) { position } }"#,
        json!({"stay": stay}),
    )
    .await;
    let cleaning = eventually(&app, &housekeeper, INBOX, json!({"team": "RXA-HOUSEKEEPING"}), |d| {
        d["teamInbox"].as_array().is_some_and(|rows| !rows.is_empty())
    })
    .await;
    let row = &cleaning["teamInbox"][0];
    assert_eq!(
        (row["kind"].as_str(), row["title"].as_str()),
        (Some("BED_CLEANING"), Some("Clean bed RXT01-W1-B01"))
    );
    assert_eq!(row["nhsNumber"], Value::Null);
    let cleaning_task = row["id"].as_str().unwrap().to_owned();

    // Completing the cleaning task cleans the bed.
    let cleaned = app
        .graphql(
            Some(&housekeeper),
            r#"mutation($t: ID!) { completeTask(input: {taskId: $t, outcome: "Cleaned"}) { visible } }"#,
            json!({"t": cleaning_task}),
        )
        .await;
    assert!(cleaned.get("errors").is_none(), "{cleaned}");
    let board = r#"query { bedBoard(wardId: "RXT01-W1") { id status } }"#;
    eventually(&app, &nurse, board, json!({}), |d| d["bedBoard"][0]["status"] == "AVAILABLE").await;
    let turnaround = r#"{ wardTurnaround(wardId: "RXT01-W1") { bedsTurnedAround meanMinutes } }"#;
    let turned =
        eventually(&app, &nurse, turnaround, json!({}), |d| d["wardTurnaround"]["bedsTurnedAround"] == 1)
            .await;
    assert!(turned["wardTurnaround"]["meanMinutes"].as_f64().is_some_and(|m| m >= 0.0), "{turned}");

    // The workflow and the clock report themselves.
    let (status, metrics) = app.get("/metrics").await;
    assert_eq!(status, 200);
    for name in [
        "careflow_workflow_checkpoint_position{workflow=\"discharge\"}",
        "careflow_clock_pending_deadlines",
        "careflow_workflow_commands_sent_total{workflow=\"discharge\"}",
    ] {
        assert!(metrics.contains(name), "{name} in {metrics}");
    }

    // Restarted: the same inboxes, the same task history, and nothing raised twice.
    let history = r#"query($id: ID!) { task(id: $id) { history { event by } } }"#;
    let before = app.data(&therapist, history, json!({"id": task})).await;
    let teams = r#"{ teams { id openTasks completedToday } }"#;
    let counts = app.data(&trust_admin, teams, json!({})).await;
    assert_eq!(counts["teams"].as_array().map(Vec::len), Some(4), "{counts}");
    assert!(app.terminate(), "a clean shutdown");
    let app = Careflow::start(dir.path(), &[]);
    assert_eq!(app.data(&therapist, history, json!({"id": task})).await, before);
    // The workflows follow the log in order: once they have acted on a new event, they have
    // been through everything before it, so anything they were going to double would show.
    let second = app
        .data(
            &nurse,
            r#"mutation { admitPatient(input: {bedId: "RXT01-W1-B02", nhsNumber: "9990000034", givenName: "Percival",
                familyName: "Aldous"}) { stayId } }"#,
            json!({}),
        )
        .await;
    let second = second["admitPatient"]["stayId"].as_str().unwrap().to_owned();
    app.data(
        &nurse,
        r#"mutation($stay: ID!) { markMedicallyOptimised(input: {stayId: $stay, dischargeReadyDate: "2030-01-02", pathway: 0}) { position } }"#,
        json!({"stay": second}),
    )
    .await;
    let ward = eventually(&app, &nurse, INBOX, json!({"team": "RXA-LARCH"}), |d| {
        d["teamInbox"].as_array().is_some_and(|rows| !rows.is_empty())
    })
    .await;
    assert_eq!(ward["teamInbox"][0]["kind"], "DISCHARGE_HOME");
    let after = app.data(&trust_admin, teams, json!({})).await;
    for (before, after) in counts["teams"].as_array().unwrap().iter().zip(after["teams"].as_array().unwrap())
    {
        let opened = if before["id"] == "RXA-LARCH" { 1 } else { 0 };
        assert_eq!(
            after["openTasks"].as_u64(),
            before["openTasks"].as_u64().map(|n| n + opened),
            "{before} {after}"
        );
        assert_eq!(after["completedToday"], before["completedToday"], "{before} {after}");
    }
    assert_eq!(app.data(&social_worker, INBOX, json!({"team": "RYC-HSWT"})).await["teamInbox"], json!([]));
    assert_eq!(app.data(&nurse, board, json!({})).await["bedBoard"][0]["status"], "AVAILABLE");
}

/// The one clock under a crash: tasks fall due a few milliseconds apart; the process is killed
/// while their deadlines fire, and restarted. Every task is marked overdue exactly once.
#[tokio::test]
async fn deadlines_firing_when_the_process_is_killed_are_neither_lost_nor_doubled() {
    const TASKS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &[]);
    let admin = token_in("admin", "RXA");
    configure_team(&app, &admin, "RXA-AMU", "WARD", &[], &["nurse.rxa"]).await;
    let nurse = token_for("nurse.rxa", "ward_nurse", "RXA", &[]);
    let start = chrono::Utc::now() + chrono::Duration::seconds(2);
    let mut ids = Vec::new();
    for i in 0..TASKS {
        // 5 ms apart, but never in the past when a loaded machine creates them slowly.
        let due = (start + chrono::Duration::milliseconds(5 * i64::try_from(i).unwrap()))
            .max(chrono::Utc::now() + chrono::Duration::milliseconds(500));
        let created = app
            .data(
                &nurse,
                r#"mutation($due: String!) { createTask(input: {title: "Give the 10:00 medicines", kind: GENERAL, teamId: "RXA-AMU",
                    priority: ROUTINE, due: $due}) { taskId } }"#,
                json!({"due": due.to_rfc3339()}),
            )
            .await;
        ids.push(created["createTask"]["taskId"].as_str().unwrap().to_owned());
    }
    let overdue = r#"{ teams { id overdueTasks } }"#;
    let count = |data: &Value| data["teams"][0]["overdueTasks"].as_u64().unwrap_or(0);
    let firing = eventually(&app, &admin, overdue, json!({}), |d| count(d) > 0).await;
    let fired_before_the_crash = count(&firing);
    app.kill();

    let app = Careflow::start(dir.path(), &[]);
    let all = eventually(&app, &admin, overdue, json!({}), |d| count(d) == TASKS as u64).await;
    assert_eq!(count(&all), TASKS as u64);
    let history = r#"query($id: ID!) { task(id: $id) { history { event } } }"#;
    for id in &ids {
        let view = app.data(&admin, history, json!({"id": id})).await;
        let events: Vec<&str> = view["task"]["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["event"].as_str().unwrap())
            .collect();
        assert_eq!(events, ["TaskCreated", "TaskOverdue", "TaskEscalated"], "task {id}");
    }
    eprintln!("{fired_before_the_crash} of {TASKS} deadlines had fired when the process was killed");
}
