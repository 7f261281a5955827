//! The live `assessment` subscription: the assessment now, then again at every saved change
//! and every change of who is in which section (a client that falls behind gets the current
//! assessment). Holding it keeps its caller's presence; ending it lets that go.

use tokio::sync::broadcast;

use super::presence::{Here, Watch};
use super::*;

/// What one subscription holds between pushes.
struct Live {
    changes: broadcast::Receiver<DocChange<AssessmentDoc>>,
    presence_changes: broadcast::Receiver<String>,
    last: (AssessmentView, Vec<Here>),
    _watch: Watch,
    _guard: Option<SubscriptionGuard>,
}

/// What wakes a subscription.
enum Wake {
    Expired,
    Doc(Result<DocChange<AssessmentDoc>, RecvError>),
    Presence(Result<String, RecvError>),
    Sweep,
}

/// The pushes after the first: on each change of the assessment's document (taken from the
/// change itself, so the push costs no read) or of its presence, unless nothing shown changed.
/// Access is checked again before every push. Ends after an error that forbids it, and when
/// the token expires.
fn follow(
    reader: AssessmentReader,
    patients: PatientReader,
    presence: Arc<Presence>,
    caller: Caller,
    template: Option<Arc<TemplateView>>,
    live: Live,
) -> impl Stream<Item = Result<Assessment, GqlError>> {
    let expires = expiry(&caller);
    let id = live.last.0.assessment_id.clone();
    let key = assessment_key(&id);
    stream::unfold(Some(live), move |live| {
        let (reader, patients, presence, caller, template, id, key) = (
            reader.clone(),
            patients.clone(),
            presence.clone(),
            caller.clone(),
            template.clone(),
            id.clone(),
            key.clone(),
        );
        async move {
            let mut live = live?;
            loop {
                let sweep_at = presence.next_expiry(&id);
                let wake = tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(expires) => Wake::Expired,
                    change = live.changes.recv() => Wake::Doc(change),
                    changed = live.presence_changes.recv() => Wake::Presence(changed),
                    () = async {
                        match sweep_at {
                            Some(at) => tokio::time::sleep_until(at).await,
                            None => std::future::pending().await,
                        }
                    } => Wake::Sweep,
                };
                let view = match wake {
                    Wake::Expired => {
                        let expired = ApiError::Unauthenticated("the token has expired".into());
                        return Some((Err(expired.into()), None));
                    }
                    Wake::Sweep => {
                        // Told through the presence changes.
                        presence.sweep(&id);
                        continue;
                    }
                    Wake::Doc(Ok(DocChange::Changed { key: changed, .. })) if changed != key => continue,
                    Wake::Doc(Ok(DocChange::Changed { doc: Some(doc), .. }))
                        if matches!(&*doc, AssessmentDoc::Assessment(_)) =>
                    {
                        let AssessmentDoc::Assessment(view) = &*doc else { continue };
                        (**view).clone()
                    }
                    Wake::Doc(Ok(_) | Err(RecvError::Lagged(_))) => match stored(&reader, &id).await {
                        Ok(Some(view)) => view,
                        Ok(None) => {
                            let gone = ApiError::NotFound(format!("assessment {id} does not exist"));
                            return Some((Err(gone.into()), None));
                        }
                        Err(error) => return Some((Err(error.into()), Some(live))),
                    },
                    Wake::Presence(Ok(changed)) if changed != id => continue,
                    Wake::Presence(Ok(_) | Err(RecvError::Lagged(_))) => live.last.0.clone(),
                    Wake::Doc(Err(RecvError::Closed)) | Wake::Presence(Err(RecvError::Closed)) => {
                        return None;
                    }
                };
                let here = presence.here(&id);
                if (&view, &here) == (&live.last.0, &live.last.1) {
                    continue;
                }
                if let Err(error) = may_see_with(&patients, &caller, &view).await {
                    return Some((Err(error.into()), None));
                }
                live.last = (view.clone(), here.clone());
                let pushed = Assessment::new(view, template.clone(), here, &caller);
                return Some((Ok(pushed), Some(live)));
            }
        }
    })
}

/// The assessment subscription.
#[derive(Default)]
pub struct AssessmentsSubscription;

#[Subscription]
impl AssessmentsSubscription {
    /// An assessment now, then again each time a section is saved or signed off, its state
    /// changes, or someone enters or leaves one of its sections. Ends with FORBIDDEN if the
    /// caller may no longer see it, and with UNAUTHENTICATED when the token expires.
    async fn assessment(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<impl Stream<Item = Result<Assessment, GqlError>> + use<>, GqlError> {
        let caller = viewer(ctx)?.clone();
        let reader = assessments(ctx)?.clone();
        let patients = patients(ctx)?.clone();
        let presence = presence(ctx)?.clone();
        // Subscribe before the first read, so that no change falls between them.
        let changes = reader.changes();
        let presence_changes = presence.changes();
        let Some(view) = stored(&reader, id.as_str()).await? else {
            return Err(ApiError::NotFound(format!("assessment {} does not exist", id.as_str())).into());
        };
        may_see_with(&patients, &caller, &view).await?;
        let template = template(&reader, &view.template_id, view.template_version).await?;
        let watch = presence.watch(id.as_str(), &caller.actor.user_id);
        let here = presence.here(id.as_str());
        let first = Assessment::new(view.clone(), template.clone(), here.clone(), &caller);
        let guard = ctx.data::<GatewayMetrics>().ok().map(SubscriptionGuard::new);
        let live = Live { changes, presence_changes, last: (view, here), _watch: watch, _guard: guard };
        let updates = follow(reader, patients, presence, caller, template, live);
        Ok(stream::iter([Ok(first)]).chain(updates))
    }
}
