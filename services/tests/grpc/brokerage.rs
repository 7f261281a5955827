//! `careflow.brokerage.v1` over gRPC: registering providers, posting a request from a
//! submitted trusted assessment, offers and their eligibility, the same acceptance sent twice
//! at once, and every bad field named with nothing stored.

use careflow_domain::assessments::template::SHIPPED;
use careflow_proto::assessments::v1 as apb;
use careflow_proto::assessments::v1::assessment_service_client::AssessmentServiceClient;
use careflow_proto::brokerage::v1 as bpb;
use careflow_proto::brokerage::v1::brokerage_service_client::BrokerageServiceClient;
use careflow_proto::patients::v1 as ppb;
use careflow_proto::patients::v1::patient_service_client::PatientServiceClient;

use super::*;

const NHS: &str = "9990000026";
const COUNCIL: &str = "LA001";

fn answer(value: apb::answer::Value) -> apb::Answer {
    apb::Answer { value: Some(value) }
}

/// A section: its id, who saves and signs it (role, organisation), its answers.
type Section = (&'static str, Role, &'static str, Vec<(&'static str, apb::Answer)>);

/// The care home template published, a patient registered, and their assessment completed by
/// a ward nurse of RXA and a social worker of the council, submitted to the council.
async fn submitted(app: &TestServices) -> String {
    use apb::answer::Value;
    let mut client = AssessmentServiceClient::new(app.channel.clone());
    let (template, json) = SHIPPED[1];
    let publish = apb::PublishAssessmentTemplateRequest {
        command_id: uuid(),
        template_id: template.into(),
        content_json: json.into(),
    };
    client.publish_assessment_template(app.request(Role::Admin, publish)).await.unwrap();
    let register = ppb::RegisterPatientRequest {
        command_id: uuid(),
        nhs_number: NHS.into(),
        given_name: "Hester".into(),
        family_name: "Quillfeather".into(),
        date_of_birth: "1936-02-11".into(),
        gender: ppb::Gender::Female as i32,
        postcode: "LS6 2QB".into(),
        gp_practice: String::new(),
    };
    PatientServiceClient::new(app.channel.clone())
        .register_patient(app.request(Role::WardNurse, register))
        .await
        .unwrap();
    let start = apb::StartAssessmentRequest {
        command_id: uuid(),
        nhs_number: NHS.into(),
        template_id: template.into(),
        template_version: 0,
        task_id: String::new(),
    };
    let id = client
        .start_assessment(app.request(Role::WardNurse, start))
        .await
        .unwrap()
        .into_inner()
        .ack
        .unwrap()
        .assessment_id;
    let sections: [Section; 3] = [
        (
            "about-the-person",
            Role::SocialWorker,
            COUNCIL,
            vec![
                ("consents-to-assessment", answer(Value::YesNo(true))),
                ("next-of-kin", answer(Value::Text("Son, Pip Quillfeather".into()))),
            ],
        ),
        (
            "health-and-care-needs",
            Role::WardNurse,
            "RXA",
            vec![
                ("mobility", answer(Value::Choice("help-of-two".into()))),
                ("hoist-needed", answer(Value::YesNo(true))),
                ("pressure-care", answer(Value::YesNo(false))),
                ("clinical-frailty-scale", answer(Value::Score(7))),
            ],
        ),
        (
            "placement",
            Role::SocialWorker,
            COUNCIL,
            vec![
                ("placement-type", answer(Value::Choice("residential".into()))),
                ("needed-from", answer(Value::Date("2030-01-10".into()))),
                ("placement-summary", answer(Value::Text("Two carers for transfers".into()))),
            ],
        ),
    ];
    for (section, role, org, answers) in sections {
        let save = apb::SaveAssessmentSectionRequest {
            command_id: uuid(),
            assessment_id: id.clone(),
            section_id: section.into(),
            base_version: 0,
            answers: answers.into_iter().map(|(q, a)| (q.to_owned(), a)).collect(),
        };
        client.save_assessment_section(app.request_from(role, org, save)).await.unwrap();
        let sign = apb::SignOffAssessmentSectionRequest {
            command_id: uuid(),
            assessment_id: id.clone(),
            section_id: section.into(),
            version: 1,
        };
        client.sign_off_assessment_section(app.request_from(role, org, sign)).await.unwrap();
    }
    let submit = apb::SubmitAssessmentRequest {
        command_id: uuid(),
        assessment_id: id.clone(),
        to: vec![COUNCIL.into()],
    };
    client.submit_assessment(app.request(Role::WardNurse, submit)).await.unwrap();
    id
}

fn register(name: &str, beds: u32) -> bpb::RegisterProviderRequest {
    bpb::RegisterProviderRequest {
        command_id: uuid(),
        name: name.into(),
        services: vec![bpb::CareType::Residential as i32],
        bed_types: vec![bpb::BedType::Standard as i32],
        districts: vec!["LS6".into(), "LS7".into()],
        home_district: "LS6".into(),
        registered_beds: beds,
        weekly_hours: 0,
        rates: vec![bpb::Rate { care_type: bpb::CareType::Residential as i32, weekly_pence: 95_000 }],
        cqc: Some(bpb::Cqc { rating: bpb::CqcRating::Good as i32, rated_on: "2025-09-01".into() }),
    }
}

fn post(assessment: &str) -> bpb::PostCareRequestRequest {
    bpb::PostCareRequestRequest {
        command_id: uuid(),
        assessment_id: assessment.into(),
        need: Some(bpb::Need {
            care_type: bpb::CareType::Residential as i32,
            hours_per_week: 0,
            bed_type: bpb::BedType::Standard as i32,
        }),
        district: "LS6".into(),
        terms: Some(bpb::Terms { start_by: "2030-01-10".into(), weekly_budget_pence: 100_000 }),
        window_hours: 0,
    }
}

fn offer(request: &str, pence: i64) -> bpb::MakeOfferRequest {
    bpb::MakeOfferRequest {
        command_id: uuid(),
        request_id: request.into(),
        weekly_price_pence: pence,
        earliest_start: "2030-01-08".into(),
        note: String::new(),
    }
}

#[tokio::test]
async fn bad_input_names_every_field_and_stores_nothing() {
    let app = TestServices::spawn().await;
    let mut client = BrokerageServiceClient::new(app.channel.clone());
    let head = app.head();
    let bad = bpb::RegisterProviderRequest {
        services: vec![bpb::CareType::Residential as i32, 99],
        districts: vec!["LS6".into(), "not a district".into()],
        home_district: String::new(),
        rates: vec![bpb::Rate { care_type: bpb::CareType::Residential as i32, weekly_pence: -5 }],
        cqc: Some(bpb::Cqc { rating: 0, rated_on: "yesterday".into() }),
        ..register("", 10)
    };
    let status =
        client.register_provider(app.request_from(Role::CareProvider, "VN001", bad)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let mut fields = violations(&status);
    fields.sort();
    assert_eq!(
        fields,
        [
            "cqc.rated_on",
            "cqc.rating",
            "districts[1]",
            "home_district",
            "name",
            "rates[0].weekly_pence",
            "services[1]"
        ]
    );
    // A profile that does not hold together: named too.
    let no_beds = register("Oak House", 0);
    let status =
        client.register_provider(app.request_from(Role::CareProvider, "VN001", no_beds)).await.unwrap_err();
    assert_eq!(violations(&status), ["registered_beds"]);
    let bad_post = bpb::PostCareRequestRequest {
        assessment_id: "nope".into(),
        need: Some(bpb::Need {
            care_type: bpb::CareType::HomeCare as i32,
            hours_per_week: 1000,
            bed_type: 0,
        }),
        district: "??".into(),
        terms: Some(bpb::Terms { start_by: "soon".into(), weekly_budget_pence: 0 }),
        window_hours: 500,
        ..post("x")
    };
    let status =
        client.post_care_request(app.request_from(Role::Broker, COUNCIL, bad_post)).await.unwrap_err();
    let mut fields = violations(&status);
    fields.sort();
    assert_eq!(
        fields,
        [
            "assessment_id",
            "district",
            "need.hours_per_week",
            "terms.start_by",
            "terms.weekly_budget_pence",
            "window_hours"
        ]
    );
    let rule = bpb::SetRankingRuleRequest {
        command_id: uuid(),
        rule: Some(bpb::RankingRule { quality: 70, cost: 40, start: 0, distance: 0 }),
    };
    let status =
        client.set_ranking_rule(app.request_from(Role::Commissioner, COUNCIL, rule)).await.unwrap_err();
    assert_eq!(violations(&status), ["rule"]);
    assert!(status.message().contains("sum to 100") || format!("{status:?}").contains("sum to 100"));
    assert_eq!(app.head(), head, "nothing stored");
}

#[tokio::test]
async fn a_request_reaches_eligible_providers_and_one_award_wins_when_sent_twice_at_once() {
    let app = TestServices::spawn_on_sqlite().await;
    let assessment = submitted(&app).await;
    let mut client = BrokerageServiceClient::new(app.channel.clone());
    for (org, name) in [("VN001", "Oak House"), ("VN002", "Elm Lodge")] {
        client
            .register_provider(app.request_from(Role::CareProvider, org, register(name, 20)))
            .await
            .unwrap();
    }
    // A broker of another council cannot use an assessment not submitted to it.
    let elsewhere = client
        .post_care_request(app.request_from(Role::Broker, "LA002", post(&assessment)))
        .await
        .unwrap_err();
    assert_eq!(elsewhere.code(), Code::FailedPrecondition, "{elsewhere:?}");
    assert!(!elsewhere.message().contains(NHS), "{}", elsewhere.message());
    // A care provider may not post; a broker may.
    let refused = client
        .post_care_request(app.request_from(Role::CareProvider, "VN001", post(&assessment)))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    let request = client
        .post_care_request(app.request_from(Role::Broker, COUNCIL, post(&assessment)))
        .await
        .unwrap()
        .into_inner()
        .ack
        .unwrap()
        .id;
    let a = client
        .make_offer(app.request_from(Role::CareProvider, "VN001", offer(&request, 90_000)))
        .await
        .unwrap();
    let a = a.into_inner().ack.unwrap().id;
    let b = client
        .make_offer(app.request_from(Role::CareProvider, "VN002", offer(&request, 98_000)))
        .await
        .unwrap();
    let b = b.into_inner().ack.unwrap().id;
    let again = client
        .make_offer(app.request_from(Role::CareProvider, "VN001", offer(&request, 80_000)))
        .await
        .unwrap_err();
    assert_eq!(again.code(), Code::FailedPrecondition);
    assert!(again.message().contains("already has live offer"), "{}", again.message());
    // A provider cannot withdraw another's offer, nor accept.
    let theirs =
        bpb::WithdrawOfferRequest { command_id: uuid(), request_id: request.clone(), offer_id: a.clone() };
    let status =
        client.withdraw_offer(app.request_from(Role::CareProvider, "VN002", theirs)).await.unwrap_err();
    assert_eq!(status.code(), Code::PermissionDenied);
    // The broker clicks accept on both at the same moment: one placement, the other refused.
    let accept = |offer: &str| bpb::AcceptOfferRequest {
        command_id: uuid(),
        request_id: request.clone(),
        offer_id: offer.into(),
    };
    let (mut x, mut y) = (client.clone(), client.clone());
    let (first, second) = tokio::join!(
        x.accept_offer(app.request_from(Role::Broker, COUNCIL, accept(&a))),
        y.accept_offer(app.request_from(Role::Broker, COUNCIL, accept(&b))),
    );
    let lost = match (first, second) {
        (Ok(_), Err(lost)) | (Err(lost), Ok(_)) => lost,
        other => panic!("exactly one award wins: {other:?}"),
    };
    assert_eq!(lost.code(), Code::FailedPrecondition, "{lost:?}");
    let stream = StreamName::new(format!("care-request-{request}")).unwrap();
    let events = read_full_stream(app.store.as_ref(), &stream).await.unwrap();
    let agreed = events.iter().filter(|e| e.event_type == "PlacementAgreed").count();
    let declined = events.iter().filter(|e| e.event_type == "OfferDeclined").count();
    assert_eq!((agreed, declined), (1, 1));
    // The same acceptance retried with its command id: answered, nothing more stored.
    let retry = accept(&a);
    let head = app.head();
    let first = client.accept_offer(app.request_from(Role::Broker, COUNCIL, retry.clone())).await;
    let second = client.accept_offer(app.request_from(Role::Broker, COUNCIL, retry)).await;
    assert_eq!(first.is_ok(), second.is_ok());
    if first.is_ok() {
        assert_eq!(app.head(), head, "accepting the placed offer again stores nothing");
    }
}
