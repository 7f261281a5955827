//! Discharge to assess the whole way, through the real binary, across five organisations, each
//! user with their own token, every hand-off watched arriving live in the next inbox: a ward
//! nurse of the trust marks a patient medically optimised on pathway 3 → the council's social
//! care team gets the assessment task → the nurse and a social worker complete the trusted
//! assessment together (a Clinical Frailty Scale of 7 raises the frailty flag) → submitted →
//! the council's broker posts a care request → two care homes offer (a third, in another area,
//! never sees it) → the broker accepts the better-ranked → the ward gets the discharge task →
//! the patient is discharged → housekeeping cleans the bed → it is available.
//!
//! Along the way every provider-facing query and subscription is searched for anything
//! identifying the person, before and after the award.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::flow::{configure, configure_team, eventually};
use crate::helpers::{Careflow, Subscription, token_for, token_in};

const NHS: &str = "9990000050";
/// What identifies the person, in every form a leak could take.
const IDENTIFYING: [&str; 6] =
    [NHS, "Philippa", "Gristlethwaite", "1934-05-17", "LS6 2QB", "Jo Gristlethwaite"];

const INBOX: &str = r#"subscription { teamInbox(teamId: "TEAM") { id kind title status nhsNumber } }"#;

const PROVIDER_VIEW: &str = r#"{ id careType bedType district startBy weeklyBudgetPence careNeeds { section question answer }
    state identified person { nhsNumber givenName familyName dateOfBirth postcode }
    offers { offerId provider state declined weeklyPricePence ranking { rank } }
    placement { provider startDate rank of } assessment { id nhsNumber sections { id answers { questionId text } } } }"#;

/// The first push of `subscription` for which `done` holds.
async fn until_pushed(subscription: &mut Subscription, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let data = tokio::time::timeout(Duration::from_secs(15), subscription.next_data())
            .await
            .expect("a push in time");
        if done(&data) {
            return data;
        }
        assert!(Instant::now() < deadline, "not pushed in time: {data}");
    }
}

fn identifies(value: &Value) -> Option<&'static str> {
    let text = value.to_string();
    IDENTIFYING.into_iter().find(|secret| text.contains(secret))
}

fn inbox_has(data: &Value, kind: &str) -> Option<Value> {
    data["teamInbox"].as_array()?.iter().find(|t| t["kind"] == kind && t["status"] != "COMPLETED").cloned()
}

async fn register_home(app: &Careflow, token: &str, name: &str, districts: &[&str], rating: &str) {
    let registered = app
        .graphql(
            Some(token),
            r#"mutation($name: String!, $districts: [String!]!, $rating: CqcRating!) { registerProvider(input: {name: $name,
                services: [RESIDENTIAL, NURSING], bedTypes: [STANDARD, DEMENTIA], districts: $districts, homeDistrict: "LS6",
                registeredBeds: 30, rates: [{careType: RESIDENTIAL, weeklyPence: 92000}],
                cqc: {rating: $rating, ratedOn: "2025-10-01"}}) { visible provider { bedsFree } } }"#,
            json!({"name": name, "districts": districts, "rating": rating}),
        )
        .await;
    assert_eq!(registered["data"]["registerProvider"]["provider"]["bedsFree"], 30, "{registered}");
}

#[tokio::test]
async fn discharge_to_assess_runs_from_ward_to_care_home_and_back_to_an_available_bed() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &["--seed-templates", "LA001"]);

    // The trust (RXA), the council (LA001) and three care homes, each with its own people.
    let (trust_admin, council_admin) = (token_in("admin", "RXA"), token_in("admin", "LA001"));
    configure(&app, &trust_admin).await;
    configure_team(&app, &trust_admin, "RXA-LARCH", "WARD", &["RXT01-W1"], &["nurse.okafor"]).await;
    configure_team(&app, &trust_admin, "RXA-HK", "HOUSEKEEPING", &["RXT01-W1"], &["hk.bryant"]).await;
    configure_team(&app, &council_admin, "LA-SWT", "SOCIAL_CARE", &[], &["sw.adeyemi"]).await;
    let rule = app
        .graphql(
            Some(&council_admin),
            r#"mutation { setRoutingRule(input: {ruleId: "d2a-la001", name: "Discharges", taskKind: TRUSTED_ASSESSMENT,
                teamId: "LA-SWT"}) { visible } }"#,
            json!({}),
        )
        .await;
    assert!(rule.get("errors").is_none(), "{rule}");
    let nurse = token_for("nurse.okafor", "ward_nurse", "RXA", &["RXA-LARCH"]);
    let housekeeper = token_for("hk.bryant", "housekeeping", "RXA", &["RXA-HK"]);
    let social_worker = token_for("sw.adeyemi", "social_worker", "LA001", &["LA-SWT"]);
    let broker = token_for("broker.patel", "broker", "LA001", &[]);
    let oak = token_for("manager.oak", "care_provider", "VN001", &[]);
    let elm = token_for("manager.elm", "care_provider", "VN002", &[]);
    let far = token_for("manager.far", "care_provider", "VN003", &[]);
    register_home(&app, &oak, "Oak House", &["LS6", "LS7"], "GOOD").await;
    register_home(&app, &elm, "Elm Lodge", &["LS6"], "OUTSTANDING").await;
    register_home(&app, &far, "Fell View", &["BD7"], "OUTSTANDING").await;

    // Everyone watches their own inbox or view.
    let mut sw_inbox = app.subscribe(&social_worker, &INBOX.replace("TEAM", "LA-SWT")).await;
    let mut ward_inbox = app.subscribe(&nurse, &INBOX.replace("TEAM", "RXA-LARCH")).await;
    let mut hk_inbox = app.subscribe(&housekeeper, &INBOX.replace("TEAM", "RXA-HK")).await;
    let provider_live = format!(
        "subscription {{ providerRequests {{ full view {{ eligible {PROVIDER_VIEW} offered {PROVIDER_VIEW} }} changed {PROVIDER_VIEW} removed }} }}"
    );
    let mut oak_live = app.subscribe(&oak, &provider_live).await;
    let mut elm_live = app.subscribe(&elm, &provider_live).await;
    let mut far_live = app.subscribe(&far, &provider_live).await;
    let mut market = app
        .subscribe(
            &broker,
            r#"subscription { careMarket { full changed { id state offers { offerId provider ranking { rank score explanation } } } } }"#,
        )
        .await;
    for live in [
        &mut sw_inbox,
        &mut ward_inbox,
        &mut hk_inbox,
        &mut oak_live,
        &mut elm_live,
        &mut far_live,
        &mut market,
    ] {
        live.next_data().await;
    }

    // The ward's board pushes each bed as it changes (no snapshot first).
    let mut board =
        app.subscribe(&nurse, r#"subscription { bedBoard(wardId: "RXT01-W1") { id status } }"#).await;

    // Admitted, then medically optimised on pathway 3: the council's team gets the task live.
    app.data(
        &nurse,
        r#"mutation { registerPatient(input: {nhsNumber: "9990000050", givenName: "Philippa", familyName: "Gristlethwaite",
            dateOfBirth: "1934-05-17", gender: FEMALE, postcode: "LS6 2QB"}) { visible } }"#,
        json!({}),
    )
    .await;
    let admitted = app
        .data(
            &nurse,
            r#"mutation { admitPatient(input: {bedId: "RXT01-W1-B01", nhsNumber: "9990000050", givenName: "Philippa",
                familyName: "Gristlethwaite"}) { stayId } }"#,
            json!({}),
        )
        .await;
    let stay = admitted["admitPatient"]["stayId"].as_str().unwrap().to_owned();
    let today = chrono::Utc::now().date_naive();
    let start_by = (today + chrono::Duration::days(3)).to_string();
    app.data(
        &nurse,
        r#"mutation($stay: ID!, $date: String!) { markMedicallyOptimised(input: {stayId: $stay, dischargeReadyDate: $date, pathway: 3}) { position } }"#,
        json!({"stay": stay, "date": today.to_string()}),
    )
    .await;
    let pushed = until_pushed(&mut sw_inbox, |d| inbox_has(d, "TRUSTED_ASSESSMENT").is_some()).await;
    let task = inbox_has(&pushed, "TRUSTED_ASSESSMENT").unwrap()["id"].as_str().unwrap().to_owned();

    // The social worker starts the care home assessment from the task; she and the nurse
    // complete it together, each their own sections; CFS 7 raises the frailty flag.
    let started = app
        .data(
            &social_worker,
            r#"mutation($task: ID!) { startAssessment(input: {nhsNumber: "9990000050", templateId: "care-home-trusted-assessment",
                taskId: $task}) { assessmentId } }"#,
            json!({"task": task}),
        )
        .await;
    let assessment = started["startAssessment"]["assessmentId"].as_str().unwrap().to_owned();
    let save = r#"mutation($input: SaveAssessmentSectionInput!) { saveAssessmentSection(input: $input) { visible } }"#;
    let sign = r#"mutation($id: ID!, $section: String!) { signOffAssessmentSection(input: {assessmentId: $id, sectionId: $section, version: 1}) { visible } }"#;
    let sections = [
        (
            &social_worker,
            "about-the-person",
            json!([{"questionId": "consents-to-assessment", "yesNo": true},
            {"questionId": "next-of-kin", "text": "Daughter, Jo Gristlethwaite, 07700 900456"}]),
        ),
        (
            &nurse,
            "health-and-care-needs",
            json!([{"questionId": "mobility", "choice": "help-of-two"},
            {"questionId": "hoist-needed", "yesNo": true}, {"questionId": "pressure-care", "yesNo": true},
            {"questionId": "clinical-frailty-scale", "score": 7}, {"questionId": "nursing-needs", "text": "Lives at 4 Cardigan Road"}]),
        ),
        (
            &social_worker,
            "placement",
            json!([{"questionId": "placement-type", "choice": "residential"},
            {"questionId": "needed-from", "date": start_by}, {"questionId": "placement-summary", "text": "Needs two carers and a hoist for transfers"}]),
        ),
    ];
    for (who, section, answers) in sections {
        let input =
            json!({"assessmentId": assessment, "sectionId": section, "baseVersion": 0, "answers": answers});
        let saved = app.graphql(Some(who), save, json!({"input": input})).await;
        assert!(saved.get("errors").is_none(), "{saved}");
        let signed = app.graphql(Some(who), sign, json!({"id": assessment, "section": section})).await;
        assert!(signed.get("errors").is_none(), "{signed}");
    }
    let flags = r#"{ patient(nhsNumber: "9990000050") { flags { kind } } }"#;
    eventually(&app, &nurse, flags, json!({}), |d| {
        d["patient"]["flags"].as_array().is_some_and(|f| f.iter().any(|f| f["kind"] == "FRAILTY"))
    })
    .await;
    let submitted = app
        .graphql(
            Some(&social_worker),
            r#"mutation($id: ID!) { submitAssessment(input: {assessmentId: $id, to: ["RXA"]}) { visible } }"#,
            json!({"id": assessment}),
        )
        .await;
    assert!(submitted.get("errors").is_none(), "{submitted}");

    // The broker posts the request: both eligible homes are told live, without who it is;
    // the home in another area is not told at all.
    let posted = app
        .data(
            &broker,
            r#"mutation($assessment: ID!, $startBy: String!) { postCareRequest(input: {assessmentId: $assessment,
                need: {careType: RESIDENTIAL, bedType: STANDARD}, district: "LS6",
                terms: {startBy: $startBy, weeklyBudgetPence: 95000}}) { requestId visible careRequest { state identified person { nhsNumber } } } }"#,
            json!({"assessment": assessment, "startBy": start_by}),
        )
        .await;
    let request = posted["postCareRequest"]["requestId"].as_str().unwrap().to_owned();
    assert_eq!(posted["postCareRequest"]["careRequest"]["identified"], true, "the broker knows who it is");
    assert_eq!(posted["postCareRequest"]["careRequest"]["person"]["nhsNumber"], NHS);
    for live in [&mut oak_live, &mut elm_live] {
        let push =
            until_pushed(live, |d| d["providerRequests"]["changed"][0]["id"] == request.as_str()).await;
        let shown = &push["providerRequests"]["changed"][0];
        assert_eq!((shown["identified"].as_bool(), shown["district"].as_str()), (Some(false), Some("LS6")));
        assert_eq!(shown["weeklyBudgetPence"], Value::Null, "the budget is the council's");
        let needs = shown["careNeeds"].to_string();
        assert!(needs.contains("Severely frail") && needs.contains("hoist for transfers"), "{needs}");
        assert_eq!(identifies(&push), None, "{push}");
    }
    let query_view = format!("query($id: ID!) {{ careRequest(id: $id) {PROVIDER_VIEW} }}");
    let hidden = app.graphql(Some(&far), &query_view, json!({"id": request})).await;
    assert_eq!(hidden["errors"][0]["extensions"]["code"], "FORBIDDEN", "{hidden}");
    let far_view = app.data(&far, "{ providerRequests { eligible { id } offered { id } } }", json!({})).await;
    assert_eq!(far_view["providerRequests"], json!({"eligible": [], "offered": []}));

    // Two homes offer; the market ranks them live: Outstanding at a little over the lowest
    // price beats Good at the lowest, under the default 60/40.
    let offer = r#"mutation($id: ID!, $price: Int!, $start: String!) { makeOffer(input: {requestId: $id, weeklyPricePence: $price,
        earliestStart: $start}) { offerId careRequest { offers { state } } } }"#;
    let start = (today + chrono::Duration::days(2)).to_string();
    let oak_offer = app.data(&oak, offer, json!({"id": request, "price": 90000, "start": start})).await;
    let elm_offer = app.data(&elm, offer, json!({"id": request, "price": 93000, "start": start})).await;
    let (oak_offer, elm_offer) = (
        oak_offer["makeOffer"]["offerId"].as_str().unwrap().to_owned(),
        elm_offer["makeOffer"]["offerId"].as_str().unwrap().to_owned(),
    );
    let ranked = until_pushed(&mut market, |d| {
        d["careMarket"]["changed"][0]["offers"].as_array().is_some_and(|o| o.len() == 2)
    })
    .await;
    let offers = ranked["careMarket"]["changed"][0]["offers"].as_array().unwrap().clone();
    assert_eq!(offers[0]["offerId"], elm_offer.as_str(), "{ranked}");
    assert_eq!(offers[0]["ranking"]["rank"], 1);
    assert!(
        offers[0]["ranking"]["explanation"].as_str().unwrap().starts_with("Quality 60% × 100.00 = 60.00"),
        "{ranked}"
    );
    for who in [&oak, &elm] {
        let seen = app.data(who, &query_view, json!({"id": request})).await;
        assert_eq!(seen["careRequest"]["offers"].as_array().unwrap().len(), 1, "only its own offer: {seen}");
        assert_eq!(seen["careRequest"]["offers"][0]["ranking"], Value::Null, "nor how it ranks: {seen}");
        assert_eq!(identifies(&seen), None, "{seen}");
        let view = app
            .data(
                who,
                &format!("{{ providerRequests {{ eligible {PROVIDER_VIEW} offered {PROVIDER_VIEW} }} }}"),
                json!({}),
            )
            .await;
        assert_eq!(identifies(&view), None, "{view}");
    }

    // The broker accepts the better-ranked offer: the ward is told live; the winner learns who
    // it is and sees the assessment; the other home hears it was declined, and nothing more.
    let accepted = app
        .data(
            &broker,
            r#"mutation($id: ID!, $offer: ID!) { acceptOffer(input: {requestId: $id, offerId: $offer}) {
                careRequest { state placement { provider rank of } } } }"#,
            json!({"id": request, "offer": elm_offer}),
        )
        .await;
    assert_eq!(
        accepted["acceptOffer"]["careRequest"]["placement"],
        json!({"provider": "VN002", "rank": 1, "of": 2}),
        "{accepted}"
    );
    let ward = until_pushed(&mut ward_inbox, |d| inbox_has(d, "DISCHARGE_TO_CARE").is_some()).await;
    let discharge_task = inbox_has(&ward, "DISCHARGE_TO_CARE").unwrap();
    assert_eq!(discharge_task["title"], format!("Discharge to Elm Lodge on {start}"), "{ward}");
    assert_eq!(discharge_task["nhsNumber"], NHS, "the ward knows its patient");
    let won =
        until_pushed(&mut elm_live, |d| d["providerRequests"]["changed"][0]["identified"] == true).await;
    let shown = &won["providerRequests"]["changed"][0];
    assert_eq!(shown["person"]["nhsNumber"], NHS, "{won}");
    assert_eq!(shown["person"]["familyName"], "Gristlethwaite");
    assert_eq!(shown["assessment"]["id"], assessment.as_str(), "the winner sees the whole assessment");
    assert_eq!(shown["placement"]["provider"], "VN002");
    assert_eq!(
        (&shown["placement"]["rank"], &shown["placement"]["of"]),
        (&Value::Null, &Value::Null),
        "how it ranked is the council's"
    );
    let lost = until_pushed(&mut oak_live, |d| {
        d["providerRequests"]["changed"][0]["offers"][0]["state"] == "DECLINED"
    })
    .await;
    assert_eq!(lost["providerRequests"]["changed"][0]["offers"][0]["offerId"], oak_offer.as_str());
    assert_eq!(identifies(&lost), None, "{lost}");
    let after = app.data(&oak, &query_view, json!({"id": request})).await;
    assert_eq!(identifies(&after), None, "{after}");
    assert_eq!(
        after["careRequest"]["placement"],
        Value::Null,
        "another home's placement is not its business"
    );
    let far_after = app.graphql(Some(&far), &query_view, json!({"id": request})).await;
    assert_eq!(identifies(&far_after), None, "{far_after}");
    let mut pushes_to_far = Vec::new();
    while let Ok(push) = tokio::time::timeout(Duration::from_millis(200), far_live.next_data()).await {
        pushes_to_far.push(push);
    }
    assert!(pushes_to_far.iter().all(|p| identifies(p).is_none()), "{pushes_to_far:?}");
    assert!(
        pushes_to_far.iter().all(|p| p["providerRequests"]["changed"].as_array().is_none_or(Vec::is_empty)),
        "the home in another area was told nothing: {pushes_to_far:?}"
    );

    // Discharged to the home: the ward's task is done, housekeeping cleans, the bed is free.
    app.data(
        &nurse,
        r#"mutation($stay: ID!) { dischargePatient(input: {stayId: $stay, destination: CARE_HOME, pathway: 3}) { position } }"#,
        json!({"stay": stay}),
    )
    .await;
    let cleaning = until_pushed(&mut hk_inbox, |d| inbox_has(d, "BED_CLEANING").is_some()).await;
    let cleaning_task = inbox_has(&cleaning, "BED_CLEANING").unwrap();
    assert_eq!(cleaning_task["nhsNumber"], Value::Null, "housekeeping is not told who it was");
    until_pushed(&mut ward_inbox, |d| inbox_has(d, "DISCHARGE_TO_CARE").is_none()).await;
    let task_status = r#"query($id: ID!) { task(id: $id) { task { status } } }"#;
    let done = app.data(&nurse, task_status, json!({"id": discharge_task["id"]})).await;
    assert_eq!(done["task"]["task"]["status"], "COMPLETED", "{done}");
    let cleaned = app
        .graphql(
            Some(&housekeeper),
            r#"mutation($t: ID!) { completeTask(input: {taskId: $t, outcome: "Cleaned"}) { visible } }"#,
            json!({"t": cleaning_task["id"]}),
        )
        .await;
    assert!(cleaned.get("errors").is_none(), "{cleaned}");
    until_pushed(&mut board, |d| {
        d["bedBoard"]["id"] == "RXT01-W1-B01" && d["bedBoard"]["status"] == "AVAILABLE"
    })
    .await;

    // The flow read model: the time in each leg, for the stay and as the ward's averages on
    // pathway 3, from the events' own times.
    let flow = r#"{ dischargeFlow(wardId: "RXT01-W1") { stayId pathway bedAvailableAt legs { leg hours } }
        dischargeFlowAverages(wardId: "RXT01-W1") { pathway legs { leg stays meanHours } } }"#;
    let analyst = token_in("analyst", "RXA");
    let seen =
        eventually(&app, &analyst, flow, json!({}), |d| !d["dischargeFlow"][0]["bedAvailableAt"].is_null())
            .await;
    assert_eq!(identifies(&seen), None, "flow figures name no one: {seen}");
    let row = &seen["dischargeFlow"][0];
    assert_eq!((row["stayId"].as_str(), row["pathway"].as_u64()), (Some(stay.as_str()), Some(3)));
    let legs: Vec<&str> =
        row["legs"].as_array().unwrap().iter().map(|l| l["leg"].as_str().unwrap()).collect();
    assert_eq!(legs, ["ASSESSMENT", "REQUEST", "AWARD", "DISCHARGE", "BED_AVAILABLE"]);
    assert!(
        row["legs"].as_array().unwrap().iter().all(|l| l["hours"].as_f64().is_some_and(|h| h >= 0.0)),
        "{seen}"
    );
    let averages = &seen["dischargeFlowAverages"][0];
    assert_eq!(averages["pathway"], 3, "{seen}");
    assert_eq!(averages["legs"].as_array().unwrap().len(), 5, "{seen}");
    assert!(averages["legs"].as_array().unwrap().iter().all(|l| l["stays"] == 1), "{seen}");
}

/// Bad input is named as the input has it, and nothing stored; a provider may neither post nor
/// see a council's market; another council's broker may not see it either; a commissioner's
/// rule is the market's. (The same acceptance sent twice at once is tested over gRPC.)
#[tokio::test]
async fn the_market_refuses_bad_input_and_other_organisations() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &["--seed-templates", "LA001"]);
    let oak = token_for("manager.oak", "care_provider", "VN001", &[]);
    let broker = token_for("broker.patel", "broker", "LA001", &[]);
    let commissioner = token_for("commissioner.li", "commissioner", "LA001", &[]);
    register_home(&app, &oak, "Oak House", &["LS6"], "GOOD").await;

    // Bad input: named as the input has it, nothing stored.
    let bad = app
        .graphql(
            Some(&broker),
            r#"mutation { postCareRequest(input: {assessmentId: "not-a-uuid", need: {careType: HOME_CARE, hoursPerWeek: 900},
                district: "??", terms: {startBy: "soon", weeklyBudgetPence: -1}}) { requestId } }"#,
            json!({}),
        )
        .await;
    assert_eq!(bad["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{bad}");
    let mut fields: Vec<&str> = bad["errors"][0]["extensions"]["fieldViolations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["field"].as_str().unwrap())
        .collect();
    fields.sort_unstable();
    assert_eq!(
        fields,
        ["assessmentId", "district", "need.hoursPerWeek", "terms.startBy", "terms.weeklyBudgetPence"],
        "{bad}"
    );
    let rule = app
        .graphql(
            Some(&commissioner),
            r#"mutation { setRankingRule(input: {quality: 70, cost: 40}) { visible } }"#,
            json!({}),
        )
        .await;
    assert_eq!(rule["errors"][0]["extensions"]["fieldViolations"][0]["field"], "rule", "{rule}");

    // Roles: a provider neither posts nor sees the market; a broker does not offer; another
    // council's broker does not see this council's market.
    let post = app
        .graphql(
            Some(&oak),
            r#"mutation { postCareRequest(input: {assessmentId: "6a0c3f3e-4f4e-4d7b-9b8e-2f6d1c1e0a11", need: {careType: RESIDENTIAL, bedType: STANDARD},
                district: "LS6", terms: {startBy: "2031-01-01", weeklyBudgetPence: 1}}) { requestId } }"#,
            json!({}),
        )
        .await;
    assert_eq!(post["errors"][0]["extensions"]["code"], "FORBIDDEN", "{post}");
    let market = app.graphql(Some(&oak), "{ careMarket { council } }", json!({})).await;
    assert_eq!(market["errors"][0]["extensions"]["code"], "FORBIDDEN", "{market}");
    let other = token_for("broker.x", "broker", "LA002", &[]);
    let theirs =
        app.graphql(Some(&other), r#"{ careMarket(council: "LA001") { council } }"#, json!({})).await;
    assert_eq!(theirs["errors"][0]["extensions"]["code"], "FORBIDDEN", "{theirs}");

    // A commissioner sets the rule; the market shows it.
    let set = app
        .data(&commissioner, r#"mutation { setRankingRule(input: {quality: 50, cost: 30, start: 10, distance: 10}) { rule { quality isDefault } } }"#, json!({}))
        .await;
    assert_eq!(set["setRankingRule"]["rule"], json!({"quality": 50, "isDefault": false}));
    let shown = app.data(&commissioner, "{ careMarket { rule { quality cost start distance } vacancies { district careType bedsFree } } }", json!({})).await;
    assert_eq!(shown["careMarket"]["rule"], json!({"quality": 50, "cost": 30, "start": 10, "distance": 10}));
    assert!(
        shown["careMarket"]["vacancies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|v| v["district"] == "LS6" && v["bedsFree"] == 30),
        "{shown}"
    );
}
