//! Trusted assessments and flag rules through the real binary over gRPC: an admin publishes the
//! shipped template and sets the frailty rule; a council social worker starts an assessment; a
//! nurse's Clinical Frailty Scale answer of 7, once signed off, raises the patient's frailty flag, naming the
//! rule, and a later 6 updates it; after a restart it is all still so, raised once.

use std::time::Duration;

use careflow_domain::assessments::template::SHIPPED;
use careflow_proto::assessments::v1 as apb;
use careflow_proto::assessments::v1::assessment_service_client::AssessmentServiceClient;
use careflow_proto::flags::v1 as fpb;
use careflow_proto::flags::v1::flag_service_client::FlagServiceClient;
use careflow_proto::patients::v1 as ppb;
use careflow_proto::patients::v1::patient_service_client::PatientServiceClient;
use serde_json::{Value, json};
use tonic::transport::Channel;

use crate::helpers::{self, Careflow};

const NHS: &str = "9990000026";

fn request<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    request
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn channel(app: &Careflow) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{}", app.grpc()))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

fn cfs(assessment: &str, base: u32, score: u32) -> apb::SaveAssessmentSectionRequest {
    apb::SaveAssessmentSectionRequest {
        command_id: uuid(),
        assessment_id: assessment.into(),
        section_id: "frailty".into(),
        base_version: base,
        answers: [(
            "clinical-frailty-scale".to_owned(),
            apb::Answer { value: Some(apb::answer::Value::Score(score)) },
        )]
        .into(),
    }
}

const FLAGS: &str = r#"query($n: String!) { patient(nhsNumber: $n) {
    flags { kind frailtyScore severity snomedCode reason raisedBy { userId rule ruleVersion } }
    timeline { eventType } } }"#;

/// Polls the patient's record until `done` holds, for at most 20 s.
async fn until(app: &Careflow, token: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let data = app.data(token, FLAGS, json!({"n": NHS})).await;
        if done(&data["patient"]) {
            return data["patient"].clone();
        }
        assert!(tokio::time::Instant::now() < deadline, "not so within 20 s: {data}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_frailty_score_in_an_assessment_raises_and_updates_the_flag_by_its_rule() {
    let dir = tempfile::tempdir().unwrap();
    let app = Careflow::start(dir.path(), &[]);
    let admin = helpers::token_for("admin.rxa", "admin", "RXA", &[]);
    let nurse = helpers::token_for("nurse.okafor", "ward_nurse", "RXA", &[]);
    let social_worker = helpers::token_for("sw.whitlow", "social_worker", "LA001", &[]);
    let channel = channel(&app).await;
    let mut assessments = AssessmentServiceClient::new(channel.clone());
    let (template_id, json) = SHIPPED[0];
    let publish = apb::PublishAssessmentTemplateRequest {
        command_id: uuid(),
        template_id: template_id.into(),
        content_json: json.into(),
    };
    assessments.publish_assessment_template(request(&admin, publish)).await.unwrap();
    // The rule is data, set by an admin's mutation; one that cannot work is refused, naming it.
    let set_rule = |at_least: i32| {
        format!(
            r#"mutation {{ setFlagRule(input: {{ ruleId: "cfs-frailty", name: "Clinical Frailty Scale 6 or more raises the frailty flag",
                questionId: "clinical-frailty-scale", atLeast: {at_least}, kind: FRAILTY, severity: MEDIUM, severeFrom: 7,
                reviewInDays: 90 }}) {{ position ruleId }} }}"#
        )
    };
    let refused = app.graphql(Some(&admin), &set_rule(3), json!({})).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT", "{refused}");
    assert_eq!(refused["errors"][0]["extensions"]["fieldViolations"][0]["field"], "rule", "{refused}");
    let nurse_tries = app.graphql(Some(&nurse), &set_rule(6), json!({})).await;
    assert_eq!(nurse_tries["errors"][0]["extensions"]["code"], "FORBIDDEN", "{nurse_tries}");
    let set = app.data(&admin, &set_rule(6), json!({})).await;
    assert_eq!(set["setFlagRule"]["ruleId"], "cfs-frailty");
    // The rule is RXA's now: another organisation's admin may not change it (nor the template).
    let other_admin = helpers::token_for("admin.ryc", "admin", "RYC", &[]);
    let taken = app.graphql(Some(&other_admin), &set_rule(8), json!({})).await;
    assert_eq!(taken["errors"][0]["extensions"]["code"], "FORBIDDEN", "{taken}");
    let republish = apb::PublishAssessmentTemplateRequest {
        command_id: uuid(),
        template_id: template_id.into(),
        content_json: json.replace("Reablement trusted assessment", "Our own assessment"),
    };
    let refused =
        assessments.publish_assessment_template(request(&other_admin, republish)).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied, "{refused:?}");
    let register = ppb::RegisterPatientRequest {
        command_id: uuid(),
        nhs_number: NHS.into(),
        given_name: "Maud".into(),
        family_name: "Pettigrew".into(),
        date_of_birth: "1936-02-11".into(),
        gender: ppb::Gender::Female as i32,
        postcode: "LS6 2QB".into(),
        gp_practice: String::new(),
    };
    PatientServiceClient::new(channel.clone()).register_patient(request(&nurse, register)).await.unwrap();
    let start = apb::StartAssessmentRequest {
        command_id: uuid(),
        nhs_number: NHS.into(),
        template_id: template_id.into(),
        template_version: 0,
        task_id: String::new(),
    };
    let started = assessments.start_assessment(request(&social_worker, start)).await.unwrap().into_inner();
    let assessment = started.ack.unwrap().assessment_id;

    // Only careflow's own workflows apply rules.
    let forged = fpb::ApplyFlagRuleRequest {
        command_id: uuid(),
        nhs_number: NHS.into(),
        rule_id: "cfs-frailty".into(),
        score: 9,
        reason: "by hand".into(),
    };
    let refused =
        FlagServiceClient::new(channel.clone()).apply_flag_rule(request(&admin, forged)).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);

    // A draft raises nothing; the nurse's sign-off does.
    assessments.save_assessment_section(request(&nurse, cfs(&assessment, 0, 7))).await.unwrap();
    let draft = app.data(&nurse, FLAGS, json!({"n": NHS})).await;
    assert_eq!(draft["patient"]["flags"], json!([]), "{draft}");
    let sign = apb::SignOffAssessmentSectionRequest {
        command_id: uuid(),
        assessment_id: assessment.clone(),
        section_id: "frailty".into(),
        version: 1,
    };
    assessments.sign_off_assessment_section(request(&nurse, sign)).await.unwrap();
    let patient = until(&app, &nurse, |p| p["flags"].as_array().is_some_and(|f| !f.is_empty())).await;
    let flag = &patient["flags"][0];
    assert_eq!(flag["kind"], "FRAILTY");
    assert_eq!((flag["frailtyScore"].as_i64(), flag["severity"].as_str()), (Some(7), Some("HIGH")));
    assert_eq!(flag["snomedCode"], "925861000000102", "severe frailty");
    assert_eq!(flag["raisedBy"], json!({"userId": null, "rule": "cfs-frailty", "ruleVersion": 1}));
    assert!(flag["reason"].as_str().unwrap().contains(&assessment), "{flag}");

    assessments.save_assessment_section(request(&nurse, cfs(&assessment, 1, 6))).await.unwrap();
    let sign = apb::SignOffAssessmentSectionRequest {
        command_id: uuid(),
        assessment_id: assessment.clone(),
        section_id: "frailty".into(),
        version: 2,
    };
    assessments.sign_off_assessment_section(request(&nurse, sign)).await.unwrap();
    let patient = until(&app, &nurse, |p| p["flags"][0]["frailtyScore"] == 6).await;
    assert_eq!(
        (patient["flags"][0]["severity"].as_str(), patient["flags"][0]["snomedCode"].as_str()),
        (Some("MEDIUM"), Some("925831000000107"))
    );

    // The gRPC channel is still open: careflow stops anyway, within its drain time.
    let stopping = std::time::Instant::now();
    assert!(app.terminate(), "stops cleanly");
    assert!(stopping.elapsed() < Duration::from_secs(15), "stopped in {:?}", stopping.elapsed());
    drop(channel);
    let app = Careflow::start(dir.path(), &[]);
    let patient = until(&app, &nurse, |p| p["flags"][0]["frailtyScore"] == 6).await;
    let raised =
        patient["timeline"].as_array().unwrap().iter().filter(|e| e["eventType"] == "FlagRaised").count();
    assert_eq!(raised, 1, "raised once, across the restart: {patient}");
}
