//! The live `teamInbox` and `myTasks` subscriptions: the list now, then again each time it
//! changes (a client that falls behind gets the current list).

use super::*;

/// What a subscription follows: one document of the task models.
#[derive(Clone)]
enum Followed {
    /// A team's inbox (access is checked again before every push: members come and go).
    Inbox(String),
    /// The caller's tasks.
    Mine,
}

/// What one push carries.
#[derive(Clone, PartialEq)]
enum Pushed {
    Inbox(Vec<TaskRow>),
    Mine(MyTasksView),
}

async fn read(reader: &TaskReader, caller: &Caller, followed: &Followed) -> Result<Pushed, ApiError> {
    match followed {
        Followed::Inbox(team_id) => inbox(reader, caller, team_id).await.map(Pushed::Inbox),
        Followed::Mine => mine(reader, caller).await.map(Pushed::Mine),
    }
}

fn key(caller: &Caller, followed: &Followed) -> String {
    match followed {
        Followed::Inbox(team_id) => inbox_key(team_id),
        Followed::Mine => mine_key(&caller.actor.user_id),
    }
}

/// The pushes of one subscription: the first read, then a read after each change to its
/// document (or a resync), unless it is what was last sent. Ends after an error that forbids
/// it, and when the token expires.
fn follow(
    reader: TaskReader,
    caller: Caller,
    followed: Followed,
    first: Pushed,
    guard: Option<SubscriptionGuard>,
) -> impl Stream<Item = Result<Pushed, GqlError>> {
    let changes = reader.changes();
    let expires = expiry(&caller);
    let key = key(&caller, &followed);
    let state = Some((changes, first.clone(), guard));
    let updates = stream::unfold(state, move |state| {
        let (reader, caller, followed, key) = (reader.clone(), caller.clone(), followed.clone(), key.clone());
        async move {
            let (mut changes, last, guard) = state?;
            loop {
                let change = tokio::select! {
                    biased;
                    () = tokio::time::sleep_until(expires) => {
                        let expired = ApiError::Unauthenticated("the token has expired".into());
                        return Some((Err(expired.into()), None));
                    }
                    change = changes.recv() => change,
                };
                match change {
                    Ok(DocChange::Changed { key: changed, .. }) if changed != key => continue,
                    Ok(DocChange::Changed { .. } | DocChange::Resync) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => return None,
                }
                return match read(&reader, &caller, &followed).await {
                    Ok(pushed) if pushed == last => continue,
                    Ok(pushed) => Some((Ok(pushed.clone()), Some((changes, pushed, guard)))),
                    Err(error @ (ApiError::Forbidden(_) | ApiError::NotFound(_))) => {
                        Some((Err(error.into()), None))
                    }
                    Err(error) => Some((Err(error.into()), Some((changes, last, guard)))),
                };
            }
        }
    });
    stream::iter([Ok(first)]).chain(updates)
}

/// The task subscriptions.
#[derive(Default)]
pub struct TasksSubscription;

#[Subscription]
impl TasksSubscription {
    /// A team's inbox now, then again each time it changes. Ends with FORBIDDEN if the caller
    /// stops being a member, and with UNAUTHENTICATED when the token expires.
    async fn team_inbox(
        &self,
        ctx: &Context<'_>,
        team_id: ID,
    ) -> Result<impl Stream<Item = Result<Vec<Task>, GqlError>> + use<>, GqlError> {
        let caller = viewer(ctx)?.clone();
        let reader = tasks(ctx)?.clone();
        let guard = ctx.data::<GatewayMetrics>().ok().map(SubscriptionGuard::new);
        let followed = Followed::Inbox(team_id.0);
        let first = read(&reader, &caller, &followed).await?;
        let shown = caller.clone();
        Ok(follow(reader, caller, followed, first, guard).map(move |pushed| {
            pushed.map(|p| match p {
                Pushed::Inbox(rows) => rows.into_iter().map(|row| Task::of(row, &shown)).collect(),
                Pushed::Mine(_) => Vec::new(),
            })
        }))
    }

    /// The caller's tasks now, then again each time they change (a claim, a completion, an
    /// escalation to them as a lead).
    async fn my_tasks(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<MyTasks, GqlError>> + use<>, GqlError> {
        let caller = viewer(ctx)?.clone();
        let reader = tasks(ctx)?.clone();
        let guard = ctx.data::<GatewayMetrics>().ok().map(SubscriptionGuard::new);
        let first = read(&reader, &caller, &Followed::Mine).await?;
        let shown = caller.clone();
        Ok(follow(reader, caller, Followed::Mine, first, guard).map(move |pushed| {
            pushed.map(|p| match p {
                Pushed::Mine(view) => MyTasks::of(view, &shown),
                Pushed::Inbox(_) => MyTasks::of(MyTasksView::default(), &shown),
            })
        }))
    }
}
