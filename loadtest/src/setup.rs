//! Phase 1: a care system set up through the public GraphQL API, as its admins and staff would,
//! every id carrying the run's prefix: a trust (`LT<prefix>`) with sites, wards of 40 beds
//! (three in four occupied by synthetic patients), a team per ward, virtual wards with patients
//! at home; a council (`LA<prefix>`) with a social work team and a broker; care providers
//! (`VN<prefix>NN`); the shipped assessment templates published under the run's own ids
//! (nothing is needed of the target beyond a JWT secret); an assessment per ward for its
//! assessors to complete together; and care requests, each posted from an assessment
//! completed, signed off and submitted, for the providers to offer on.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use careflow_auth::Role;
use careflow_domain::assessments::template::SHIPPED;
use futures::{StreamExt, TryStreamExt};
use serde_json::{Value, json};

use crate::client::Gql;
use crate::error::LoadtestError;
use crate::people::{NhsNumbers, Person, fnv1a, person};
use crate::report::SetupSummary;
use crate::tokens::Minter;
use crate::world::{
    Admission, Assessment, Bed, BedState, MAX_OFFERS, OfferPair, Provider, Question, Request, Section,
    SectionTemplate, Tokens, VirtualWard, Ward, World,
};

/// Setup requests in flight at once.
const CONCURRENCY: usize = 16;
/// Beds per ward.
pub const BEDS_PER_WARD: usize = 40;
/// Of which occupied.
pub const OCCUPIED_PER_WARD: usize = 30;
/// Wards per site.
const WARDS_PER_SITE: usize = 10;
/// Wards per virtual ward (a virtual ward for every five wards).
const WARDS_PER_VIRTUAL_WARD: usize = 5;
/// Patients on each virtual ward.
const PATIENTS_PER_VIRTUAL_WARD: usize = 20;
/// Care providers in the market.
const PROVIDERS: usize = 10;
/// Tries with a fresh NHS number when one is taken on the target already (another run's).
const PATIENT_TRIES: usize = 5;

const WARD_NAMES: [&str; 12] = [
    "Larch", "Rowan", "Hazel", "Aspen", "Willow", "Alder", "Juniper", "Cedar", "Elder", "Holly", "Linden",
    "Maple",
];

/// How big a care system to set up.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    /// Wards.
    pub wards: usize,
    /// Care requests to post.
    pub requests: usize,
}

impl Size {
    /// Enough care requests that providers can keep offering (and withdrawing) at the
    /// offers' share of `rate` for `seconds`: each provider may offer ten times per request.
    pub fn new(wards: usize, rate: f64, seconds: f64, offers_share: f64) -> Self {
        let offer_commands = rate * seconds * offers_share;
        let pairs = offer_commands / (2.0 * f64::from(MAX_OFFERS)) * 1.25 + 1.0;
        let requests = (pairs / PROVIDERS as f64).ceil().clamp(1.0, 400.0) as usize;
        Self { wards, requests }
    }
}

/// The GraphQL of setup.
mod gql {
    pub const PROBE: &str = "{ assessmentTemplates { id } }";
    pub const PUBLISH: &str = r#"mutation($id: ID!, $json: String!) { publishAssessmentTemplate(input: {templateId: $id, contentJson: $json}) { position } }"#;
    pub const TEMPLATE: &str = r#"query($id: ID!) { assessmentTemplate(id: $id) { version sections { id required editors signers
        questions { id kind required options { value } levels { score } min max whole maxLength } } } }"#;
    pub const SITE: &str = r#"mutation($id: ID!, $name: String!) { registerSite(input: {siteId: $id, name: $name}) { position } }"#;
    pub const WARD: &str = r#"mutation($id: ID!, $site: ID!, $name: String!) { configureWard(input: {wardId: $id, siteId: $site,
        name: $name, specialty: "General medicine"}) { position } }"#;
    pub const BED: &str = r#"mutation($id: ID!, $ward: ID!, $label: String!) { addBed(input: {bedId: $id, wardId: $ward, label: $label}) { position } }"#;
    pub const TEAM: &str = r#"mutation($id: ID!, $name: String!, $kind: TeamKind!, $wards: [String!]!, $members: [String!]!) {
        configureTeam(input: {teamId: $id, name: $name, kind: $kind, wards: $wards, members: $members}) { position } }"#;
    pub const ADMIT: &str = r#"mutation($bed: ID!, $nhs: String!, $given: String!, $family: String!) { admitPatient(input: {bedId: $bed,
        nhsNumber: $nhs, givenName: $given, familyName: $family}) { stayId } }"#;
    pub const REGISTER: &str = r#"mutation($nhs: String!, $given: String!, $family: String!, $dob: String!, $gender: Gender!, $postcode: String) {
        registerPatient(input: {nhsNumber: $nhs, givenName: $given, familyName: $family, dateOfBirth: $dob, gender: $gender,
        postcode: $postcode}) { visible } }"#;
    pub const VIRTUAL_WARD: &str = r#"mutation($id: ID!, $site: ID!, $name: String!, $pathway: CarePathway!, $beds: Int!) {
        configureVirtualWard(input: {wardId: $id, siteId: $site, name: $name, pathway: $pathway, beds: $beds}) { visible } }"#;
    pub const ADMIT_VIRTUAL: &str = r#"mutation($ward: ID!, $nhs: String!) { admitToVirtualWard(input: {wardId: $ward, nhsNumber: $nhs, plan: {
        observations: [RESPIRATION_RATE, OXYGEN_SATURATION, AIR_OR_OXYGEN, SYSTOLIC_BLOOD_PRESSURE, PULSE, CONSCIOUSNESS, TEMPERATURE],
        everyMinutes: 240, spo2Scale: SCALE_1, escalationContacts: [{name: "Sam Ashdown", relationship: "son", phone: "07700 900123"}]}})
        { admissionId } }"#;
    pub const START: &str = r#"mutation($nhs: String!, $template: ID!) { startAssessment(input: {nhsNumber: $nhs, templateId: $template}) { assessmentId } }"#;
    pub const SAVE: &str = r#"mutation($input: SaveAssessmentSectionInput!) { saveAssessmentSection(input: $input) { position } }"#;
    pub const SIGN: &str = r#"mutation($id: ID!, $section: String!) { signOffAssessmentSection(input: {assessmentId: $id, sectionId: $section,
        version: 1}) { position } }"#;
    pub const SUBMIT: &str = r#"mutation($id: ID!, $to: [String!]!) { submitAssessment(input: {assessmentId: $id, to: $to}) { position } }"#;
    pub const PROVIDER: &str = r#"mutation($name: String!, $districts: [String!]!, $home: String!, $rating: CqcRating!) {
        registerProvider(input: {name: $name, services: [RESIDENTIAL, NURSING], bedTypes: [STANDARD, DEMENTIA], districts: $districts,
        homeDistrict: $home, registeredBeds: 40, rates: [{careType: RESIDENTIAL, weeklyPence: 92000}, {careType: NURSING, weeklyPence: 118000}],
        cqc: {rating: $rating, ratedOn: "2025-10-01"}}) { visible } }"#;
    pub const POST: &str = r#"mutation($assessment: ID!, $district: String!, $startBy: String!, $window: Int) {
        postCareRequest(input: {assessmentId: $assessment, need: {careType: RESIDENTIAL, bedType: STANDARD}, district: $district,
        terms: {startBy: $startBy, weeklyBudgetPence: 95000}, windowHours: $window}) { requestId } }"#;
}

/// A team to configure: id, kind, wards, members, and the token of its organisation's admin.
type Team<'a> = (String, &'static str, Vec<String>, Vec<String>, &'a str);

/// The people who set up and work in the care system.
struct Staff {
    trust_admin: String,
    council_admin: String,
    bed_manager: String,
    clinician: Vec<String>,
    social_worker: String,
    broker: String,
    /// Assessors by role name (`social_worker`, `ward_nurse`, `therapist`, `community_nurse`).
    assessors: Vec<(&'static str, String)>,
}

/// Setting up, with what it has counted so far.
struct Setup<'a> {
    gql: &'a Gql,
    minter: &'a Minter,
    prefix: String,
    lower: String,
    trust: String,
    council: String,
    districts: [String; 2],
    today: chrono::NaiveDate,
    window_hours: i64,
    requests: AtomicU64,
    people: Mutex<(NhsNumbers, usize)>,
}

/// Runs `futures` `CONCURRENCY` at a time, in order; the first error stops them.
async fn all<T, F>(futures: impl IntoIterator<Item = F>) -> Result<Vec<T>, LoadtestError>
where
    F: Future<Output = Result<T, LoadtestError>>,
{
    futures::stream::iter(futures).buffered(CONCURRENCY).try_collect().await
}

fn text(data: &Value, pointer: &str, step: &str) -> Result<String, LoadtestError> {
    data.pointer(pointer).and_then(Value::as_str).map(str::to_owned).ok_or_else(|| LoadtestError::Setup {
        step: step.to_owned(),
        code: "BAD_RESPONSE".into(),
        message: format!("no {pointer} in {data}"),
    })
}

impl Setup<'_> {
    async fn call(
        &self,
        step: &str,
        token: &str,
        query: &str,
        variables: Value,
    ) -> Result<Value, LoadtestError> {
        self.requests.fetch_add(1, Ordering::Relaxed);
        self.gql.setup(step, token, query, variables).await
    }

    fn token(
        &self,
        user: &str,
        role: Role,
        organisation: &str,
        teams: &[&str],
    ) -> Result<String, LoadtestError> {
        Ok(self.minter.token(&format!("{user}.{}", self.lower), role, organisation, teams)?)
    }

    fn next_person(&self) -> Result<Person, LoadtestError> {
        let mut people = self.people.lock().map_err(|_| LoadtestError::Setup {
            step: "patients".into(),
            code: "INTERNAL".into(),
            message: "the NHS number allocator was poisoned".into(),
        })?;
        let number = people.0.next_number().ok_or_else(|| LoadtestError::Setup {
            step: "patients".into(),
            code: "EXHAUSTED".into(),
            message: "the 999 test range has no NHS numbers left".into(),
        })?;
        people.1 += 1;
        Ok(person(people.1, number))
    }

    /// Runs `with` for a fresh synthetic patient, again with another when the number turns
    /// out to be taken on the target (CONFLICT).
    async fn with_patient<T, F, Fut>(&self, with: F) -> Result<T, LoadtestError>
    where
        F: Fn(Person) -> Fut,
        Fut: Future<Output = Result<T, LoadtestError>>,
    {
        let mut tries = 0;
        loop {
            tries += 1;
            match with(self.next_person()?).await {
                Err(LoadtestError::Setup { code, .. }) if code == "CONFLICT" && tries < PATIENT_TRIES => {
                    continue;
                }
                other => return other,
            }
        }
    }

    async fn register(&self, token: &str, p: &Person) -> Result<(), LoadtestError> {
        let vars = json!({"nhs": p.nhs_number, "given": p.given_name, "family": p.family_name,
            "dob": p.date_of_birth, "gender": p.gender, "postcode": p.postcode});
        self.call("register a patient", token, gql::REGISTER, vars).await.map(|_| ())
    }

    fn staff(&self, virtual_wards: usize) -> Result<Staff, LoadtestError> {
        let (trust, council) = (self.trust.as_str(), self.council.as_str());
        let team = format!("{council}-HSWT");
        let clinician = (0..virtual_wards)
            .map(|v| {
                let team = virtual_ward_team(trust, v);
                self.token(&format!("vw{}", v + 1), Role::VirtualWardClinician, trust, &[&team])
            })
            .collect::<Result<_, _>>()?;
        Ok(Staff {
            trust_admin: self.token("admin", Role::Admin, trust, &[])?,
            council_admin: self.token("admin", Role::Admin, council, &[])?,
            bed_manager: self.token("site-manager", Role::BedManager, trust, &[])?,
            clinician,
            social_worker: self.token("sw", Role::SocialWorker, council, &[&team])?,
            broker: self.token("broker", Role::Broker, council, &[])?,
            assessors: vec![
                ("social_worker", self.token("sw", Role::SocialWorker, council, &[&team])?),
                ("ward_nurse", self.token("assessing-nurse", Role::WardNurse, trust, &[])?),
                ("therapist", self.token("ot", Role::Therapist, council, &[])?),
                ("community_nurse", self.token("dn", Role::CommunityNurse, trust, &[])?),
            ],
        })
    }
}

fn virtual_ward_id(trust: &str, v: usize) -> String {
    format!("{trust}-VW{:02}", v + 1)
}

fn virtual_ward_team(trust: &str, v: usize) -> String {
    format!("{}-TEAM", virtual_ward_id(trust, v))
}

fn site_id(trust: &str, s: usize) -> String {
    format!("{trust}-S{}", s + 1)
}

/// Parses a template as `assessmentTemplate` answers it.
fn sections_of(data: &Value) -> Vec<SectionTemplate> {
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let sections = data.pointer("/assessmentTemplate/sections").and_then(Value::as_array);
    sections
        .into_iter()
        .flatten()
        .map(|s| SectionTemplate {
            id: s["id"].as_str().unwrap_or_default().to_owned(),
            required: s["required"].as_bool().unwrap_or(false),
            editors: strings(&s["editors"]),
            signers: strings(&s["signers"]),
            questions: s["questions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|q| Question {
                    id: q["id"].as_str().unwrap_or_default().to_owned(),
                    kind: q["kind"].as_str().unwrap_or_default().to_owned(),
                    options: q["options"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|o| o["value"].as_str().map(str::to_owned))
                        .collect(),
                    levels: q["levels"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|l| l["score"].as_i64())
                        .collect(),
                    min: q["min"].as_f64(),
                    max: q["max"].as_f64(),
                    whole: q["whole"].as_bool().unwrap_or(false),
                    max_length: q["maxLength"].as_u64().and_then(|m| usize::try_from(m).ok()),
                })
                .collect(),
        })
        .collect()
}

/// Valid answers to every question of a section, varied by `n` (scores stay at the lowest
/// level, so a signed-off section never raises a flag).
pub fn answers(questions: &[Question], n: u64, today: chrono::NaiveDate) -> Value {
    let pick = |options: &[String]| {
        let i = usize::try_from(n).unwrap_or(0) % options.len().max(1);
        options.get(i).cloned().unwrap_or_default()
    };
    let answers: Vec<Value> = questions
        .iter()
        .map(|q| {
            let id = &q.id;
            match q.kind.as_str() {
                "CHOICE" => json!({"questionId": id, "choice": pick(&q.options)}),
                "MULTI_CHOICE" => json!({"questionId": id, "choices": [pick(&q.options)]}),
                "NUMBER" => {
                    let (min, max) = (q.min.unwrap_or(0.0), q.max.unwrap_or(f64::MAX));
                    let value = (min + (n % 3) as f64).clamp(min, max);
                    json!({"questionId": id, "number": if q.whole { value.floor() } else { value }})
                }
                "DATE" => json!({"questionId": id, "date": (today + chrono::Duration::days(3)).to_string()}),
                "YES_NO" => json!({"questionId": id, "yesNo": n.is_multiple_of(2)}),
                "SCORE" => json!({"questionId": id, "score": q.levels.first().copied().unwrap_or(1)}),
                _ => {
                    let text = format!("Discussed with the person and their family (note {n})");
                    let limit = q.max_length.unwrap_or(200).max(1);
                    json!({"questionId": id, "text": text.chars().take(limit).collect::<String>()})
                }
            }
        })
        .collect();
    Value::Array(answers)
}

/// What setup leaves for the run.
pub struct SetUp {
    /// The care system.
    pub world: World,
    /// What it made.
    pub summary: SetupSummary,
    /// The trust's ODS code.
    pub trust: String,
    /// The council's ODS code.
    pub council: String,
    /// The day setup ran (UTC): expected discharge dates count from it.
    pub today: chrono::NaiveDate,
}

/// Sets the care system up.
pub async fn run(
    gql: &Gql,
    minter: &Minter,
    prefix: &str,
    size: Size,
    run_hours: f64,
    say: &(dyn Fn(&str) + Sync),
) -> Result<SetUp, LoadtestError> {
    let started = Instant::now();
    let hash = fnv1a(prefix.as_bytes());
    let setup = Setup {
        gql,
        minter,
        prefix: prefix.to_owned(),
        lower: prefix.to_ascii_lowercase(),
        trust: format!("LT{prefix}"),
        council: format!("LA{prefix}"),
        districts: [format!("Q{}", hash % 1000), format!("X{}", (hash / 1000) % 1000)],
        today: chrono::Utc::now().date_naive(),
        window_hours: (run_hours.ceil() as i64 + 2).clamp(24, 168),
        requests: AtomicU64::new(0),
        people: Mutex::new((NhsNumbers::for_prefix(prefix), 0)),
    };
    let virtual_wards = size.wards.div_ceil(WARDS_PER_VIRTUAL_WARD).max(1);
    let staff = setup.staff(virtual_wards)?;
    let mut summary = SetupSummary::default();

    // The gateway is there and takes our tokens.
    setup
        .call(
            "reach the gateway with a token signed with --jwt-secret",
            &staff.trust_admin,
            gql::PROBE,
            json!({}),
        )
        .await?;

    say("publishing templates");
    let reablement = format!("lt-{}-reablement", setup.lower);
    let care_home = format!("lt-{}-care-home", setup.lower);
    let templates = [(reablement.clone(), SHIPPED[0].1), (care_home.clone(), SHIPPED[1].1)];
    let mut shapes = Vec::new();
    for (id, content) in &templates {
        setup
            .call("publish a template", &staff.trust_admin, gql::PUBLISH, json!({"id": id, "json": content}))
            .await?;
        let template =
            setup.call("read a template", &staff.trust_admin, gql::TEMPLATE, json!({"id": id})).await?;
        shapes.push(sections_of(&template));
    }
    let (reablement_sections, care_home_sections) = (shapes[0].clone(), shapes[1].clone());

    say("registering sites, wards and beds");
    let trust = setup.trust.clone();
    let sites = size.wards.div_ceil(WARDS_PER_SITE);
    all((0..sites).map(|s| {
        let vars =
            json!({"id": site_id(&trust, s), "name": format!("Loadtest General {} ({prefix})", s + 1)});
        setup.call("register a site", &staff.trust_admin, gql::SITE, vars)
    }))
    .await?;
    let mut wards = Vec::new();
    for w in 0..size.wards {
        let id = format!("{trust}-W{:03}", w + 1);
        let team = format!("{id}-TEAM");
        let nurse_user = format!("nurse.w{:03}", w + 1);
        let nurse = setup.token(&nurse_user, Role::WardNurse, &trust, &[&team])?;
        wards.push(Ward { id, team, nurse, nurse_user: format!("{nurse_user}.{}", setup.lower) });
    }
    all(wards.iter().enumerate().map(|(w, ward)| {
        let name = format!("{} Ward {}", WARD_NAMES[w % WARD_NAMES.len()], w / WARD_NAMES.len() + 1);
        let vars = json!({"id": ward.id, "site": site_id(&trust, w / WARDS_PER_SITE), "name": name});
        setup.call("configure a ward", &staff.trust_admin, gql::WARD, vars)
    }))
    .await?;
    let beds: Vec<Bed> = (0..size.wards)
        .flat_map(|w| (0..BEDS_PER_WARD).map(move |b| (w, b)))
        .map(|(w, b)| Bed { id: format!("{}-B{:02}", wards[w].id, b + 1), ward: w })
        .collect();
    all(beds.iter().enumerate().map(|(i, bed)| {
        let b = i % BEDS_PER_WARD;
        let label = format!("Bay {}, bed {}", b / 6 + 1, b % 6 + 1);
        setup.call(
            "add a bed",
            &staff.trust_admin,
            gql::BED,
            json!({"id": bed.id, "ward": wards[bed.ward].id, "label": label}),
        )
    }))
    .await?;

    say("configuring teams");
    let mut teams: Vec<Team<'_>> = wards
        .iter()
        .map(|w| {
            (
                w.team.clone(),
                "WARD",
                vec![w.id.clone()],
                vec![w.nurse_user.clone()],
                staff.trust_admin.as_str(),
            )
        })
        .collect();
    for v in 0..virtual_wards {
        let members = vec![format!("vw{}.{}", v + 1, setup.lower)];
        teams.push((
            virtual_ward_team(&trust, v),
            "VIRTUAL_WARD",
            vec![virtual_ward_id(&trust, v)],
            members,
            &staff.trust_admin,
        ));
    }
    let council = setup.council.clone();
    teams.push((
        format!("{council}-HSWT"),
        "SOCIAL_CARE",
        vec![],
        vec![format!("sw.{}", setup.lower)],
        &staff.council_admin,
    ));
    all(teams.iter().map(|(id, kind, team_wards, members, admin)| {
        let vars = json!({"id": id, "name": format!("{id} team"), "kind": kind, "wards": team_wards, "members": members});
        setup.call("configure a team", admin, gql::TEAM, vars)
    }))
    .await?;
    summary.teams = teams.len();

    say("admitting patients");
    let occupied: Vec<usize> = (0..beds.len()).filter(|i| i % BEDS_PER_WARD < OCCUPIED_PER_WARD).collect();
    let admitted: Vec<(String, String)> = all(occupied.iter().map(|i| {
        let (bed, setup) = (&beds[*i], &setup);
        let nurse = &wards[bed.ward].nurse;
        setup.with_patient(move |p| async move {
            let vars =
                json!({"bed": bed.id, "nhs": p.nhs_number, "given": p.given_name, "family": p.family_name});
            let data = setup.call("admit a patient", nurse, gql::ADMIT, vars).await?;
            Ok((text(&data, "/admitPatient/stayId", "admit a patient")?, p.nhs_number))
        })
    }))
    .await?;
    let mut bed_states = vec![BedState::Available; beds.len()];
    let mut ward_patients: Vec<Vec<String>> = vec![Vec::new(); size.wards];
    for (i, (stay, nhs)) in occupied.iter().zip(admitted) {
        bed_states[*i] = BedState::Occupied { stay, edd: 0 };
        ward_patients[beds[*i].ward].push(nhs);
    }

    say("setting up virtual wards");
    let pathways = ["RESPIRATORY", "FRAILTY", "HEART_FAILURE", "OTHER"];
    let vws: Vec<VirtualWard> =
        (0..virtual_wards).map(|v| VirtualWard { id: virtual_ward_id(&trust, v) }).collect();
    all(vws.iter().enumerate().map(|(v, ward)| {
        let vars = json!({"id": ward.id, "site": site_id(&trust, 0), "name": format!("Hospital at home {}", v + 1),
            "pathway": pathways[v % pathways.len()], "beds": PATIENTS_PER_VIRTUAL_WARD});
        setup.call("configure a virtual ward", &staff.bed_manager, gql::VIRTUAL_WARD, vars)
    }))
    .await?;
    let slots: Vec<usize> = (0..virtual_wards * PATIENTS_PER_VIRTUAL_WARD).collect();
    let admissions: Vec<Admission> = all(slots.iter().map(|i| {
        let v = i / PATIENTS_PER_VIRTUAL_WARD;
        let (setup, ward, clinician) = (&setup, &vws[v].id, &staff.clinician[v]);
        setup.with_patient(move |p| async move {
            setup.register(clinician, &p).await?;
            let vars = json!({"ward": ward, "nhs": p.nhs_number});
            let data = setup.call("admit to a virtual ward", clinician, gql::ADMIT_VIRTUAL, vars).await?;
            let id = text(&data, "/admitToVirtualWard/admissionId", "admit to a virtual ward")?;
            Ok(Admission { id, ward: v })
        })
    }))
    .await?;

    say("starting assessments");
    let assessments: Vec<Assessment> = all(ward_patients.iter().map(|patients| {
        let (setup, staff, template) = (&setup, &staff, &reablement);
        async move {
            let nhs = patients.first().cloned().unwrap_or_default();
            let vars = json!({"nhs": nhs, "template": template});
            let data = setup.call("start an assessment", &staff.social_worker, gql::START, vars).await?;
            Ok(Assessment { id: text(&data, "/startAssessment/assessmentId", "start an assessment")? })
        }
    }))
    .await?;
    let mut sections = Vec::new();
    for (a, _) in assessments.iter().enumerate() {
        for (s, template) in reablement_sections.iter().enumerate() {
            let editors: Vec<&String> = staff
                .assessors
                .iter()
                .filter(|(role, _)| template.editors.iter().any(|e| e == role))
                .map(|(_, token)| token)
                .collect();
            if let Some(editor) = editors.get((a + s) % editors.len().max(1)) {
                sections.push(Section {
                    assessment: a,
                    template: template.clone(),
                    editor: (*editor).clone(),
                });
            }
        }
    }

    say("opening the care market");
    let providers: Vec<Provider> = (0..PROVIDERS)
        .map(|k| {
            let ods = format!("VN{prefix}{:02}", k + 1);
            let token = setup.token(&format!("manager.{}", k + 1), Role::CareProvider, &ods, &[])?;
            Ok(Provider { ods, token })
        })
        .collect::<Result<_, LoadtestError>>()?;
    let ratings = ["GOOD", "OUTSTANDING", "GOOD", "REQUIRES_IMPROVEMENT"];
    all(providers.iter().enumerate().map(|(k, provider)| {
        let vars = json!({"name": format!("{} Care Home", WARD_NAMES[(k + 5) % WARD_NAMES.len()]),
            "districts": setup.districts, "home": setup.districts[k % 2], "rating": ratings[k % ratings.len()]});
        setup.call("register a care provider", &provider.token, gql::PROVIDER, vars)
    }))
    .await?;
    let requests: Vec<Request> =
        all((0..size.requests).map(|r| post_request(&setup, &staff, &care_home, &care_home_sections, r)))
            .await?;
    let offer_pairs: Vec<OfferPair> = (0..requests.len())
        .flat_map(|request| (0..providers.len()).map(move |provider| OfferPair { request, provider }))
        .collect();

    summary.seconds = started.elapsed().as_secs_f64();
    summary.requests = setup.requests.load(Ordering::Relaxed);
    summary.sites = sites;
    summary.wards = wards.len();
    summary.beds = beds.len();
    summary.occupied_beds = occupied.len();
    summary.assessments = assessments.len();
    summary.assessment_sections = sections.len();
    summary.virtual_wards = vws.len();
    summary.virtual_ward_patients = admissions.len();
    summary.providers = providers.len();
    summary.care_requests = requests.len();
    let tokens = Tokens {
        housekeeper: setup.token("housekeeper", Role::Housekeeping, &trust, &[])?,
        device: setup.token("device-gateway", Role::DeviceGateway, &trust, &[])?,
    };
    let world = World {
        prefix: setup.prefix.clone(),
        wards,
        beds,
        bed_states,
        assessments,
        sections,
        virtual_wards: vws,
        admissions,
        providers,
        requests,
        offer_pairs,
        tokens,
    };
    Ok(SetUp { world, summary, trust, council, today: setup.today })
}

/// A patient assessed for a care home, every required section saved and signed off by a role
/// that may, submitted, and the broker's care request posted from it.
async fn post_request(
    setup: &Setup<'_>,
    staff: &Staff,
    template: &str,
    sections: &[SectionTemplate],
    r: usize,
) -> Result<Request, LoadtestError> {
    let assessor = |roles: &[String]| {
        staff
            .assessors
            .iter()
            .find(|(role, _)| roles.iter().any(|r| r == role))
            .map(|(_, token)| token.as_str())
    };
    let assessment = setup
        .with_patient(|p| async move {
            setup.register(&staff.social_worker, &p).await?;
            let vars = json!({"nhs": p.nhs_number, "template": template});
            let data =
                setup.call("start a care home assessment", &staff.social_worker, gql::START, vars).await?;
            text(&data, "/startAssessment/assessmentId", "start a care home assessment")
        })
        .await?;
    for section in sections.iter().filter(|s| s.required) {
        let missing = |what: &str| LoadtestError::Setup {
            step: format!("complete section {} of {template}", section.id),
            code: "NO_ROLE".into(),
            message: format!("none of the run's assessors may {what} it"),
        };
        let editor = assessor(&section.editors).ok_or_else(|| missing("edit"))?;
        let signer = assessor(&section.signers).ok_or_else(|| missing("sign off"))?;
        let input = json!({"assessmentId": assessment, "sectionId": section.id, "baseVersion": 0,
            "answers": answers(&section.questions, 0, setup.today)});
        setup.call("save a section", editor, gql::SAVE, json!({"input": input})).await?;
        let vars = json!({"id": assessment, "section": section.id});
        setup.call("sign off a section", signer, gql::SIGN, vars).await?;
    }
    let vars = json!({"id": assessment, "to": [setup.trust]});
    setup.call("submit an assessment", &staff.social_worker, gql::SUBMIT, vars).await?;
    let vars = json!({"assessment": assessment, "district": setup.districts[r % 2],
        "startBy": (setup.today + chrono::Duration::days(3)).to_string(), "window": setup.window_hours});
    let data = setup.call("post a care request", &staff.broker, gql::POST, vars).await?;
    Ok(Request { id: text(&data, "/postCareRequest/requestId", "post a care request")? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enough_requests_for_the_offers_to_keep_going() {
        // 500/s for 10 minutes, 5% offers: 15,000 offer commands, 20 per provider and request.
        let size = Size::new(25, 500.0, 600.0, 0.05);
        assert!(size.requests * PROVIDERS * 20 >= 15_000, "{size:?}");
        assert!(size.requests <= 120, "{size:?}");
        assert_eq!(Size::new(4, 100.0, 5.0, 0.05).requests, 1);
        assert_eq!(Size::new(4, 100.0, 5.0, 0.0).requests, 1);
    }

    #[test]
    fn answers_are_valid_for_each_kind_of_question() {
        let q = |id: &str, kind: &str| Question {
            id: id.into(),
            kind: kind.into(),
            options: vec!["a".into(), "b".into()],
            levels: vec![1, 2, 3],
            min: Some(0.0),
            max: Some(1.0),
            whole: true,
            max_length: Some(10),
        };
        let today = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        let questions = [
            q("t", "TEXT"),
            q("c", "CHOICE"),
            q("m", "MULTI_CHOICE"),
            q("n", "NUMBER"),
            q("d", "DATE"),
            q("y", "YES_NO"),
            q("s", "SCORE"),
        ];
        let a = answers(&questions, 5, today);
        assert_eq!(a[0]["text"].as_str().unwrap().chars().count(), 10, "{a}");
        assert_eq!(a[1]["choice"], "b");
        assert_eq!(a[2]["choices"], json!(["b"]));
        assert_eq!(a[3]["number"], 1.0, "clamped to the maximum");
        assert_eq!(a[4]["date"], "2030-01-04");
        assert_eq!(a[5]["yesNo"], false);
        assert_eq!(a[6]["score"], 1, "the lowest level");
    }

    /// The shipped templates' sections, read from their JSON as the gateway would show them.
    fn shipped_sections() -> Vec<SectionTemplate> {
        SHIPPED
            .iter()
            .flat_map(|(_, json)| {
                let template: Value = serde_json::from_str(json).unwrap();
                template["sections"].as_array().unwrap().clone()
            })
            .map(|s| SectionTemplate {
                id: s["id"].as_str().unwrap().into(),
                required: s["required"].as_bool().unwrap_or(false),
                editors: vec![],
                signers: vec![],
                questions: s["questions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|q| {
                        let kind = &q["kind"];
                        Question {
                            id: q["id"].as_str().unwrap().into(),
                            kind: kind["type"].as_str().unwrap().to_uppercase(),
                            options: kind["options"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(|o| o["value"].as_str().unwrap().into())
                                .collect(),
                            levels: kind["levels"]
                                .as_array()
                                .into_iter()
                                .flatten()
                                .map(|l| l["score"].as_i64().unwrap())
                                .collect(),
                            min: kind["min"].as_f64(),
                            max: kind["max"].as_f64(),
                            whole: kind["whole"].as_bool().unwrap_or(false),
                            max_length: kind["max_length"].as_u64().map(|m| m as usize),
                        }
                    })
                    .collect(),
            })
            .collect()
    }

    #[test]
    fn no_save_repeats_the_answers_of_the_one_before() {
        // The same answers again change nothing, so they would push nothing.
        let today = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
        let sections = shipped_sections();
        assert_eq!(sections.len(), 15);
        for section in &sections {
            for version in 1..30 {
                let (this, next) = (
                    answers(&section.questions, version, today),
                    answers(&section.questions, version + 1, today),
                );
                assert_ne!(this, next, "section {} at version {version}", section.id);
            }
        }
    }

    #[test]
    fn a_template_is_read_as_the_gateway_answers_it() {
        let data = json!({"assessmentTemplate": {"version": 1, "sections": [{"id": "frailty", "required": true,
            "editors": ["ward_nurse"], "signers": ["ward_nurse"], "questions": [{"id": "cfs", "kind": "SCORE",
            "required": true, "options": [], "levels": [{"score": 1}, {"score": 9}], "min": null, "max": null,
            "whole": false, "maxLength": null}]}]}});
        let sections = sections_of(&data);
        assert_eq!(sections.len(), 1);
        assert_eq!(sections[0].questions[0].levels, [1, 9]);
        assert_eq!(sections[0].editors, ["ward_nurse"]);
    }
}
