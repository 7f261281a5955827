//! The live `patientSummary` subscription.

use super::*;

/// What one wake-up of a patient summary subscription sends.
type Items = Vec<Result<Patient, GqlError>>;

/// The patients subscriptions.
#[derive(Default)]
pub struct PatientsSubscription;

/// A live `patientSummary` subscription.
struct Following {
    changes: broadcast::Receiver<DocChange<PatientDoc>>,
    reader: PatientReader,
    caller: Caller,
    nhs: String,
    key: String,
    /// The record last sent.
    last: PatientSummary,
    /// Counts the subscription while it lives.
    _guard: Option<SubscriptionGuard>,
}

/// Reads the summary again and checks the policy: the record to send, or the error that ends
/// the subscription (dissent recorded meanwhile).
async fn reread(reader: &PatientReader, caller: &Caller, nhs: &str) -> Result<Option<Patient>, GqlError> {
    let Some(summary) = summary_of(reader.get(&patient_key(nhs)).await?) else { return Ok(None) };
    may_see(caller, &summary)?;
    Ok(Some(Patient(summary)))
}

#[Subscription]
impl PatientsSubscription {
    /// The patient's record now, then again each time it changes. A client that falls behind
    /// gets the current record. Ends with FORBIDDEN if the patient dissents meanwhile and the
    /// caller's organisation is not caring for them, and with UNAUTHENTICATED when the token
    /// expires.
    async fn patient_summary(
        &self,
        ctx: &Context<'_>,
        nhs_number: String,
    ) -> Result<impl Stream<Item = Result<Patient, GqlError>> + use<>, GqlError> {
        let caller = viewer(ctx)?.clone();
        let nhs = nhs_number_arg(&nhs_number)?;
        let reader = patients(ctx)?.clone();
        let changes = reader.changes();
        let guard = ctx.data::<GatewayMetrics>().ok().map(SubscriptionGuard::new);
        let Some(first) = reread(&reader, &caller, &nhs).await? else {
            return Err(ApiError::NotFound(format!("patient {nhs} is not known to careflow")).into());
        };
        let expires = expiry(&caller);
        let key = patient_key(&nhs);
        let state =
            Some(Following { changes, reader, caller, nhs, key, last: first.0.clone(), _guard: guard });
        let updates = stream::unfold(state, move |state| async move {
            let mut live = state?;
            loop {
                let change = tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(expires) => {
                        let expired: Items = vec![Err(ApiError::Unauthenticated("the token has expired".into()).into())];
                        return Some((expired, None));
                    }
                    change = live.changes.recv() => change,
                };
                let again = match change {
                    Ok(DocChange::Changed { key: changed, doc, .. }) if changed == live.key => {
                        match summary_of(doc.as_deref().cloned()) {
                            Some(summary) => may_see(&live.caller, &summary)
                                .map(|()| Some(summary))
                                .map_err(GqlError::from),
                            None => Ok(None),
                        }
                    }
                    Ok(DocChange::Changed { .. }) => continue,
                    Ok(DocChange::Resync) | Err(RecvError::Lagged(_)) => {
                        reread(&live.reader, &live.caller, &live.nhs).await.map(|p| p.map(|p| p.0))
                    }
                    Err(RecvError::Closed) => return None,
                };
                return match again {
                    // What the client already has (a change it was first sent the result of, a
                    // re-read that found nothing new) is not sent again.
                    Ok(Some(summary)) if summary == live.last => continue,
                    Ok(Some(summary)) => {
                        live.last = summary.clone();
                        Some((vec![Ok(Patient(summary))], Some(live)))
                    }
                    Ok(None) => continue,
                    // Forbidden now: the error, then the end.
                    Err(error) if is_forbidden(&error) => Some((vec![Err(error)], None)),
                    Err(error) => Some((vec![Err(error)], Some(live))),
                };
            }
        });
        Ok(stream::iter([Ok(first)]).chain(updates.flat_map(stream::iter)))
    }
}

fn is_forbidden(error: &GqlError) -> bool {
    error.code() == Some("FORBIDDEN")
}
