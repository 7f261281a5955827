//! Tasks through the real binary over GraphQL: teams configured by two organisations, a
//! referral from a hospital ward into a council team's inbox (seen arriving live), claimed,
//! handed to a community team of another organisation, accepted and completed, with its
//! history; outsiders and bad input refused with clear codes; everything as it was after a
//! restart.

use serde_json::{Value, json};

use crate::helpers::{Careflow, token_for, token_in};

const TASK: &str = r#"query($id: ID!) { task(id: $id) { task { id status teamId organisation claimedBy offeredTo priority }
    outcome raisedByUser history { event by fromOrganisation toOrganisation detail } } }"#;

const INBOX: &str = r#"query($team: ID!) { teamInbox(teamId: $team) { id title status claimedBy offeredTo overdue nhsNumber } }"#;

fn code(response: &Value) -> Option<&str> {
    response["errors"][0]["extensions"]["code"].as_str()
}

async fn configure_team(app: &Careflow, admin: &str, team: &str, kind: &str, lead: &str, members: &[&str]) {
    let configured = app
        .graphql(
            Some(admin),
            &format!(
                r#"mutation($members: [String!]!) {{ configureTeam(input: {{teamId: "{team}", name: "{team}", kind: {kind},
                    lead: "{lead}", members: $members}}) {{ visible team {{ id organisation members }} }} }}"#
            ),
            json!({ "members": members }),
        )
        .await;
    assert!(configured.get("errors").is_none(), "{configured}");
    assert_eq!(configured["data"]["configureTeam"]["team"]["id"], team);
}

async fn act(app: &Careflow, token: &str, mutation: &str, task: &str) -> Value {
    app.graphql(
        Some(token),
        &format!(r#"mutation($task: ID!) {{ {mutation}(input: {{taskId: $task}}) {{ visible task {{ task {{ status claimedBy teamId }} }} }} }}"#),
        json!({ "task": task }),
    )
    .await
}

#[tokio::test]
async fn a_referral_crosses_organisations_from_inbox_to_done_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &[]);
    let (council_admin, trust_admin) = (token_in("admin", "RYC"), token_in("admin", "RXA"));
    configure_team(&app, &council_admin, "RYC-HSWT", "SOCIAL_CARE", "lead.ryc", &["sw.ryc"]).await;
    configure_team(&app, &trust_admin, "RXA-DN", "COMMUNITY_NURSING", "lead.rxa", &["cn.rxa"]).await;
    let social_worker = token_for("sw.ryc", "social_worker", "RYC", &[]);
    let lead = token_for("lead.ryc", "social_worker", "RYC", &[]);
    let district_nurse = token_for("cn.rxa", "community_nurse", "RXA", &[]);
    let ward_nurse = token_for("nurse.rxa", "ward_nurse", "RXA", &[]);

    // The council's social worker watches the team's inbox; the ward refers a patient into it.
    let mut inbox = app
        .subscribe(&social_worker, r#"subscription { teamInbox(teamId: "RYC-HSWT") { id title status } }"#)
        .await;
    assert_eq!(inbox.next_data().await["teamInbox"], json!([]));
    let created = app
        .graphql(
            Some(&ward_nurse),
            r#"mutation { createTask(input: {commandId: "0194f7a0-0000-7000-8000-000000000001", nhsNumber: "999 000 0026",
                title: "Assess for reablement at home", kind: TRUSTED_ASSESSMENT, teamId: "RYC-HSWT", priority: URGENT,
                due: "2099-01-01T12:00:00Z", note: "Lives alone, two steps at the door"}) {
                visible taskId task { task { status organisation } raisedByUser } } }"#,
            json!({}),
        )
        .await;
    assert!(created.get("errors").is_none(), "{created}");
    let payload = &created["data"]["createTask"];
    let task = payload["taskId"].as_str().unwrap().to_owned();
    // The ward raised it but cannot see the council's task afterwards: it is not its team's.
    assert_eq!(payload["task"], Value::Null, "{payload}");
    let arrived = inbox.next_data().await;
    assert_eq!(
        arrived["teamInbox"],
        json!([{"id": task, "title": "Assess for reablement at home", "status": "OPEN"}])
    );

    // Another organisation's nurse may neither claim it nor read the inbox.
    let refused = act(&app, &district_nurse, "claimTask", &task).await;
    assert_eq!(code(&refused), Some("FORBIDDEN"), "{refused}");
    let peek = app.graphql(Some(&district_nurse), INBOX, json!({"team": "RYC-HSWT"})).await;
    assert_eq!(code(&peek), Some("FORBIDDEN"), "{peek}");
    let nobody = app.graphql(Some(&social_worker), INBOX, json!({"team": "RYC-NOBODY"})).await;
    assert_eq!(code(&nobody), Some("NOT_FOUND"), "{nobody}");

    // Claimed twice at once with one command id: both answered alike, one claim recorded.
    let claim = r#"mutation($task: ID!) { claimTask(input: {commandId: "0194f7a0-0000-7000-8000-000000000002", taskId: $task}) { position } }"#;
    let (a, b) = tokio::join!(
        app.graphql(Some(&social_worker), claim, json!({"task": task})),
        app.graphql(Some(&social_worker), claim, json!({"task": task}))
    );
    assert!(a.get("errors").is_none() && b.get("errors").is_none(), "{a} {b}");
    assert_eq!(a["data"]["claimTask"]["position"], b["data"]["claimTask"]["position"]);
    let claimed = inbox.next_data().await;
    assert_eq!(claimed["teamInbox"][0]["status"], "CLAIMED");
    // The lead may not claim what is claimed: refused naming the state.
    let taken = act(&app, &lead, "claimTask", &task).await;
    assert_eq!(code(&taken), Some("CONFLICT"), "{taken}");
    assert!(taken["errors"][0]["message"].as_str().unwrap().contains("CLAIMED"), "{taken}");

    // Handed to the community team, which accepts it and completes it.
    let handed = app
        .graphql(
            Some(&social_worker),
            r#"mutation($task: ID!) { handOffTask(input: {taskId: $task, toTeamId: "RXA-DN", note: "Needs a nursing review first"}) {
                visible task { task { status offeredTo } } } }"#,
            json!({"task": task}),
        )
        .await;
    assert_eq!(
        handed["data"]["handOffTask"]["task"]["task"],
        json!({"status": "HANDOFF_PENDING", "offeredTo": "RXA-DN"}),
        "{handed}"
    );
    assert_eq!(
        inbox.next_data().await["teamInbox"][0]["status"],
        "HANDOFF_PENDING",
        "the council sees it offered"
    );
    let offered = app.data(&district_nurse, INBOX, json!({"team": "RXA-DN"})).await;
    assert_eq!(offered["teamInbox"][0]["status"], "HANDOFF_PENDING");
    let accepted = act(&app, &district_nurse, "acceptHandOff", &task).await;
    assert_eq!(
        accepted["data"]["acceptHandOff"]["task"]["task"],
        json!({"status": "OPEN", "claimedBy": null, "teamId": "RXA-DN"}),
        "{accepted}"
    );
    assert_eq!(inbox.next_data().await["teamInbox"], json!([]), "gone from the council's inbox");
    let completed = app
        .graphql(
            Some(&district_nurse),
            r#"mutation($task: ID!) { completeTask(input: {taskId: $task, outcome: "Reviewed; reablement can start Monday"}) { visible } }"#,
            json!({"task": task}),
        )
        .await;
    assert_eq!(completed["data"]["completeTask"]["visible"], true, "{completed}");
    let again = app
        .graphql(
            Some(&district_nurse),
            r#"mutation($task: ID!) { cancelTask(input: {taskId: $task, reason: "x"}) { visible } }"#,
            json!({"task": task}),
        )
        .await;
    assert_eq!(code(&again), Some("CONFLICT"), "{again}");
    assert!(again["errors"][0]["message"].as_str().unwrap().contains("COMPLETED"), "{again}");

    let history = |view: &Value| -> Vec<(String, String, String)> {
        view["task"]["history"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let s = |k: &str| h[k].as_str().unwrap_or("-").to_owned();
                (s("event"), s("fromOrganisation"), s("toOrganisation"))
            })
            .collect()
    };
    let view = app.data(&district_nurse, TASK, json!({"id": task})).await;
    let expected = vec![
        ("TaskCreated".to_owned(), "-".to_owned(), "RYC".to_owned()),
        ("TaskClaimed".into(), "-".into(), "-".into()),
        ("TaskHandOffOffered".into(), "RYC".into(), "RXA".into()),
        ("TaskHandOffAccepted".into(), "RYC".into(), "RXA".into()),
        ("TaskCompleted".into(), "-".into(), "-".into()),
    ];
    assert_eq!(history(&view), expected);
    assert_eq!(view["task"]["outcome"], "Reviewed; reablement can start Monday");
    assert_eq!(view["task"]["raisedByUser"], "nurse.rxa");
    // The council's worker held it once, so sees its history too; a stranger does not.
    assert!(app.graphql(Some(&social_worker), TASK, json!({"id": task})).await.get("errors").is_none());
    let stranger = token_for("sw.other", "social_worker", "RYC", &[]);
    assert_eq!(code(&app.graphql(Some(&stranger), TASK, json!({"id": task})).await), Some("FORBIDDEN"));
    let teams = app.data(&district_nurse, r#"{ teams { id completedToday openTasks } }"#, json!({})).await;
    assert_eq!(
        teams["teams"],
        json!([{"id": "RXA-DN", "completedToday": 1, "openTasks": 0}, {"id": "RYC-HSWT", "completedToday": 0, "openTasks": 0}])
    );

    // Restarted on the same data folder: the same task, the same history.
    assert!(app.terminate(), "a clean shutdown");
    let app = Careflow::start(dir.path(), &[]);
    let reopened = app.data(&district_nurse, TASK, json!({"id": task})).await;
    assert_eq!(history(&reopened), expected);
}

#[tokio::test]
async fn bad_task_input_is_refused_naming_every_field() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &[]);
    let nurse = token_in("ward_nurse", "RXA");
    let bad = app
        .graphql(
            Some(&nurse),
            r#"mutation($title: String!) { createTask(input: {nhsNumber: "9990000027", title: $title, kind: GENERAL,
                teamId: "no spaces allowed", priority: ROUTINE, due: "tomorrow", links: [{kind: "bed", id: "a/b"}]}) { position } }"#,
            json!({ "title": "x".repeat(101) }),
        )
        .await;
    assert_eq!(code(&bad), Some("BAD_USER_INPUT"), "{bad}");
    let fields: Vec<&str> = bad["errors"][0]["extensions"]["fieldViolations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["nhsNumber", "title", "teamId", "due", "links"]);
    // A due time in the past, for a real team: refused, nothing stored.
    let admin = token_in("admin", "RXA");
    configure_team(&app, &admin, "RXA-AMU", "WARD", "lead.amu", &["nurse.amu"]).await;
    let past = app
        .graphql(
            Some(&nurse),
            r#"mutation { createTask(input: {title: "Chase the TTO", kind: GENERAL, teamId: "RXA-AMU", priority: ROUTINE,
                due: "2001-01-01T00:00:00Z"}) { position } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&past), Some("CONFLICT"), "{past}");
    let inbox = app.data(&admin, INBOX, json!({"team": "RXA-AMU"})).await;
    assert_eq!(inbox["teamInbox"], json!([]));
    // Only admins configure teams; only careflow marks a task overdue (not reachable over
    // GraphQL at all) or names a rule.
    let nurse_config = app
        .graphql(
            Some(&nurse),
            r#"mutation { configureTeam(input: {teamId: "X", name: "X", kind: OTHER}) { position } }"#,
            json!({}),
        )
        .await;
    assert_eq!(code(&nurse_config), Some("FORBIDDEN"), "{nurse_config}");
}
