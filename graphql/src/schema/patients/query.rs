//! The patient record and MPI search queries.

use super::*;

/// The patients and flags queries.
#[derive(Default)]
pub struct PatientsQuery;

#[Object]
impl PatientsQuery {
    /// A patient's record: null for a patient careflow does not know; FORBIDDEN when the
    /// patient dissents from sharing and the caller's organisation is not caring for them.
    async fn patient(&self, ctx: &Context<'_>, nhs_number: String) -> Result<Option<Patient>, GqlError> {
        viewer(ctx)?;
        let nhs = nhs_number_arg(&nhs_number)?;
        record(ctx, &nhs).await
    }

    /// Finds patients by NHS number, by family name and date of birth, or by postcode (one of
    /// the three). Patients the caller may not see are left out. At most 50.
    async fn search_patients(
        &self,
        ctx: &Context<'_>,
        nhs_number: Option<String>,
        family_name: Option<String>,
        date_of_birth: Option<String>,
        postcode: Option<String>,
    ) -> Result<Vec<Patient>, GqlError> {
        let caller = viewer(ctx)?;
        let reader = patients(ctx)?;
        let blank = |s: &Option<String>| s.as_deref().is_none_or(|s| s.trim().is_empty());
        let found: Vec<String> =
            match (blank(&nhs_number), blank(&family_name), blank(&date_of_birth), blank(&postcode)) {
                (false, true, true, true) => vec![nhs_number_arg(nhs_number.as_deref().unwrap_or_default())?],
                (true, false, false, true) => {
                    let family = family_name.unwrap_or_default();
                    let born = NaiveDate::parse_from_str(
                        date_of_birth.as_deref().unwrap_or_default().trim(),
                        "%Y-%m-%d",
                    )
                    .map_err(|_| bad_input("dateOfBirth", "must be a date, YYYY-MM-DD"))?;
                    index(reader, &name_key(&family, born)).await?
                }
                (true, true, true, false) => {
                    let postcode = Postcode::parse(postcode.as_deref().unwrap_or_default())
                        .map_err(|e| bad_input("postcode", e.to_string()))?;
                    index(reader, &postcode_key(postcode.as_str())).await?
                }
                (true, false, true, true) => {
                    return Err(bad_input("dateOfBirth", "required with familyName").into());
                }
                (true, true, false, true) => {
                    return Err(bad_input("familyName", "required with dateOfBirth").into());
                }
                _ => {
                    return Err(ApiError::BadUserInput {
                    message:
                        "search by nhsNumber, by familyName and dateOfBirth, or by postcode: one of the three"
                            .into(),
                    violations: Vec::new(),
                }
                .into());
                }
            };
        let keys: Vec<String> = found.iter().take(MAX_SEARCH_RESULTS).map(|nhs| patient_key(nhs)).collect();
        let summaries = reader.get_many(&keys).await?;
        Ok(summaries
            .into_iter()
            .filter_map(summary_of)
            .filter(|s| may_see(caller, s).is_ok())
            .map(Patient)
            .collect())
    }
}

async fn index(reader: &PatientReader, key: &str) -> Result<Vec<String>, GqlError> {
    match reader.get(key).await? {
        Some(PatientDoc::Index { nhs_numbers }) => Ok(nhs_numbers.into_iter().collect()),
        _ => Ok(Vec::new()),
    }
}
