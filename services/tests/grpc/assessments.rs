//! `careflow.assessments.v1` over gRPC: templates as data, answers named by their question,
//! section roles, and a version per section under concurrent saves (on SQLite, so the saves
//! really race).

use careflow_domain::assessments::template::SHIPPED;
use careflow_proto::assessments::v1 as apb;
use careflow_proto::assessments::v1::assessment_service_client::AssessmentServiceClient;
use careflow_proto::patients::v1 as ppb;
use careflow_proto::patients::v1::patient_service_client::PatientServiceClient;

use super::*;

const NHS: &str = "9990000018";

fn publish(template_id: &str, content_json: &str) -> apb::PublishAssessmentTemplateRequest {
    apb::PublishAssessmentTemplateRequest {
        command_id: uuid(),
        template_id: template_id.into(),
        content_json: content_json.into(),
    }
}

fn score(n: u32) -> apb::Answer {
    apb::Answer { value: Some(apb::answer::Value::Score(n)) }
}

fn choice(value: &str) -> apb::Answer {
    apb::Answer { value: Some(apb::answer::Value::Choice(value.into())) }
}

fn yes_no(value: bool) -> apb::Answer {
    apb::Answer { value: Some(apb::answer::Value::YesNo(value)) }
}

fn save(
    assessment: &str,
    section: &str,
    base: u32,
    answers: &[(&str, apb::Answer)],
) -> apb::SaveAssessmentSectionRequest {
    apb::SaveAssessmentSectionRequest {
        command_id: uuid(),
        assessment_id: assessment.into(),
        section_id: section.into(),
        base_version: base,
        answers: answers.iter().map(|(q, a)| ((*q).to_owned(), a.clone())).collect(),
    }
}

/// A store with the reablement template published and a registered patient; an assessment of
/// them started by a council social worker. Returns the client and the assessment's id.
async fn started(app: &TestServices) -> (AssessmentServiceClient<Channel>, String) {
    let mut client = AssessmentServiceClient::new(app.channel.clone());
    let (id, json) = SHIPPED[0];
    client.publish_assessment_template(app.request(Role::Admin, publish(id, json))).await.unwrap();
    let mut patients = PatientServiceClient::new(app.channel.clone());
    let register = ppb::RegisterPatientRequest {
        command_id: uuid(),
        nhs_number: NHS.into(),
        given_name: "Winifred".into(),
        family_name: "Oddsworth".into(),
        date_of_birth: "1937-04-21".into(),
        gender: ppb::Gender::Female as i32,
        postcode: "LS6 2QB".into(),
        gp_practice: String::new(),
    };
    patients.register_patient(app.request(Role::WardNurse, register)).await.unwrap();
    let start = apb::StartAssessmentRequest {
        command_id: uuid(),
        nhs_number: NHS.into(),
        template_id: id.into(),
        template_version: 0,
        task_id: String::new(),
    };
    let ack = client.start_assessment(app.request_from(Role::SocialWorker, "LA001", start)).await.unwrap();
    let assessment = ack.into_inner().ack.unwrap().assessment_id;
    (client, assessment)
}

#[tokio::test]
async fn templates_are_published_by_admins_as_json_and_their_problems_are_named() {
    let app = TestServices::spawn().await;
    let mut client = AssessmentServiceClient::new(app.channel.clone());
    let (id, json) = SHIPPED[1];
    let refused = client
        .publish_assessment_template(app.request(Role::SocialWorker, publish(id, json)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let head = app.head();
    for bad in ["{", r#"{"title": "T", "sections": []}"#, &json.replace("\"social_worker\"", "\"wizard\"")] {
        let status =
            client.publish_assessment_template(app.request(Role::Admin, publish(id, bad))).await.unwrap_err();
        assert_eq!(status.code(), Code::InvalidArgument, "{bad:.40}: {status:?}");
        let fields = violations(&status);
        assert!(fields.iter().all(|f| f.starts_with("content")), "{fields:?}");
    }
    assert_eq!(app.head(), head, "nothing stored");
    client.publish_assessment_template(app.request(Role::Admin, publish(id, json))).await.unwrap();
    let head = app.head();
    client.publish_assessment_template(app.request(Role::Admin, publish(id, json))).await.unwrap();
    assert_eq!(app.head(), head, "the same content again adds no version");
}

#[tokio::test]
async fn answers_that_do_not_fit_are_named_by_their_question_and_nothing_is_stored() {
    let app = TestServices::spawn().await;
    let (mut client, assessment) = started(&app).await;
    let head = app.head();
    let bad = save(
        &assessment,
        "continence",
        0,
        &[
            ("bladder", choice("sometimes")),
            ("bowel", score(3)),
            ("not a question", yes_no(true)),
            ("continence-products", apb::Answer { value: None }),
        ],
    );
    let status = client.save_assessment_section(app.request(Role::WardNurse, bad)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let mut fields = violations(&status);
    fields.sort();
    assert_eq!(
        fields,
        ["answers.continence-products", "answers.not a question"],
        "parsing names what cannot be read"
    );
    let bad = save(&assessment, "continence", 0, &[("bladder", choice("sometimes")), ("bowel", score(3))]);
    let status = client.save_assessment_section(app.request(Role::WardNurse, bad)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(
        violations(&status),
        ["answers.bladder", "answers.bowel"],
        "the template names what does not fit"
    );
    assert_eq!(app.head(), head);
    // A section the role may not edit.
    let refused = client
        .save_assessment_section(app.request_from(
            Role::SocialWorker,
            "LA001",
            save(&assessment, "continence", 0, &[]),
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert!(refused.message().contains("may not edit section continence"), "{}", refused.message());
}

#[tokio::test]
async fn saves_of_different_sections_at_once_both_succeed_and_of_one_section_one_wins() {
    let app = TestServices::spawn_on_sqlite().await;
    let (client, assessment) = started(&app).await;
    for round in 0..5u32 {
        // A nurse and a therapist save different sections at the same moment.
        let (mut a, mut b) = (client.clone(), client.clone());
        let continence = save(
            &assessment,
            "continence",
            round,
            &[
                ("bladder", choice("continent")),
                ("bowel", choice(if round % 2 == 0 { "continent" } else { "stoma" })),
                ("continence-products", yes_no(round % 2 == 0)),
            ],
        );
        let frailty = save(&assessment, "frailty", round, &[("clinical-frailty-scale", score(2 + round))]);
        let (nurse, therapist) = tokio::join!(
            a.save_assessment_section(app.request(Role::WardNurse, continence)),
            b.save_assessment_section(app.request(Role::Therapist, frailty)),
        );
        nurse.unwrap();
        therapist.unwrap();
    }
    // Two people save one section on the same version: one wins, the other hears who did.
    let (mut a, mut b) = (client.clone(), client.clone());
    let (first, second) = tokio::join!(
        a.save_assessment_section(app.request(
            Role::WardNurse,
            save(&assessment, "frailty", 5, &[("clinical-frailty-scale", score(8))])
        )),
        b.save_assessment_section(app.request(
            Role::Therapist,
            save(&assessment, "frailty", 5, &[("clinical-frailty-scale", score(9))])
        )),
    );
    let (won, lost) = match (first, second) {
        (Ok(_), Err(lost)) => ("test.ward_nurse", lost),
        (Err(lost), Ok(_)) => ("test.therapist", lost),
        other => panic!("exactly one save wins: {other:?}"),
    };
    assert_eq!(lost.code(), Code::FailedPrecondition);
    assert!(
        lost.message().contains(&format!("changed by {won}")) && lost.message().contains("version 6"),
        "{}",
        lost.message()
    );
}
