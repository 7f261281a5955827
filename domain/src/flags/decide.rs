//! The flags context's decisions: raise, review, resolve; the rules that raise flags.

use super::*;

fn review_date(date: Option<NaiveDate>, at: DateTime<Utc>) -> Result<(), FlagError> {
    match date {
        Some(date) if date < at.date_naive() => Err(FlagError::ReviewInThePast { date }),
        _ => Ok(()),
    }
}

/// Decides a flags command on the patient's MPI record and flags, and the rule it names (for
/// [`FlagCommand::ApplyRule`] and [`FlagCommand::SetRule`]; the default state otherwise).
pub fn decide(
    patient: &PatientState,
    flags: &PatientFlags,
    rule: &FlagRuleState,
    command: &FlagCommand,
    at: DateTime<Utc>,
) -> Result<Vec<FlagStreamEvent>, FlagError> {
    if let FlagCommand::SetRule { rule_id, rule: new, organisation } = command {
        if let Some(problem) = new.problem() {
            return Err(FlagError::InvalidRule(problem));
        }
        if rule.rule.as_ref() == Some(new) {
            return Ok(Vec::new());
        }
        let set = FlagRuleEvent::FlagRuleSet {
            rule_id: rule_id.clone(),
            version: rule.version + 1,
            rule: new.clone(),
            organisation: Some(organisation.clone()),
            at,
        };
        return Ok(vec![FlagStreamEvent::Rule(set)]);
    }
    // Every other command names a patient.
    let Some(nhs_number) = command.nhs_number() else { return Ok(Vec::new()) };
    let live = |flag_id: FlagId, action| {
        let flag = flags.flags.get(&flag_id).ok_or(FlagError::FlagNotFound { nhs_number, flag_id })?;
        if flag.resolved_at.is_some() { Err(FlagError::Resolved { flag_id, action }) } else { Ok(flag) }
    };
    let events = match command {
        FlagCommand::Raise { flag_id, kind, frailty_score, severity, reason, review_on, source, .. } => {
            if patient.demographics.is_none() {
                return Err(FlagError::PatientNotRegistered { nhs_number });
            }
            if patient.date_of_death.is_some() {
                return Err(FlagError::PatientDied { nhs_number });
            }
            if flags.flags.contains_key(flag_id) {
                return Err(FlagError::FlagExists { flag_id: *flag_id });
            }
            match (kind, frailty_score) {
                (FlagKind::Frailty, None) => {
                    return Err(FlagError::FrailtyScore(
                        "a frailty flag needs its Clinical Frailty Scale score",
                    ));
                }
                (FlagKind::Frailty, Some(_)) | (_, None) => {}
                (_, Some(_)) => {
                    return Err(FlagError::FrailtyScore("only a frailty flag has a frailty score"));
                }
            }
            if let Some((active, _)) = flags.active(*kind) {
                return Err(FlagError::AlreadyActive { nhs_number, kind: *kind, flag_id: active });
            }
            review_date(*review_on, at)?;
            vec![FlagEvent::FlagRaised {
                nhs_number,
                flag_id: *flag_id,
                kind: *kind,
                frailty_score: *frailty_score,
                severity: *severity,
                reason: reason.clone(),
                review_on: *review_on,
                source: source.clone(),
                at,
            }]
        }
        FlagCommand::Review { flag_id, review_on, note, .. } => {
            live(*flag_id, "review it")?;
            review_date(Some(*review_on), at)?;
            vec![FlagEvent::FlagReviewed {
                nhs_number,
                flag_id: *flag_id,
                review_on: *review_on,
                note: note.clone(),
                at,
            }]
        }
        FlagCommand::Resolve { flag_id, reason, .. } => {
            live(*flag_id, "resolve it")?;
            vec![FlagEvent::FlagResolved { nhs_number, flag_id: *flag_id, reason: reason.clone(), at }]
        }
        FlagCommand::ApplyRule { rule_id, score, flag_id, reason, .. } => {
            let (Some(rule), version) = (rule.rule.as_ref(), rule.version) else {
                return Err(FlagError::RuleNotFound { rule_id: rule_id.clone() });
            };
            let Some(outcome) = rule.applies(*score) else { return Ok(Vec::new()) };
            let source = FlagSource::Rule { rule: rule_id.to_string(), version };
            if patient.date_of_death.is_some() {
                return Err(FlagError::PatientDied { nhs_number });
            }
            match flags.active(outcome.kind) {
                // The patient has the flag: a frailty flag follows the new score.
                Some((active, flag)) => match outcome.frailty_score {
                    Some(frailty_score)
                        if flag.frailty_score != Some(frailty_score) || flag.severity != outcome.severity =>
                    {
                        vec![FlagEvent::FlagRescored {
                            nhs_number,
                            flag_id: active,
                            frailty_score,
                            severity: outcome.severity,
                            reason: reason.clone(),
                            source,
                            at,
                        }]
                    }
                    _ => Vec::new(),
                },
                None => {
                    if patient.demographics.is_none() {
                        return Err(FlagError::PatientNotRegistered { nhs_number });
                    }
                    // The id derives from the command id: a retry is answered from the store
                    // before this decision, so only a clash of ids gets here, as for a raise.
                    if flags.flags.contains_key(flag_id) {
                        return Err(FlagError::FlagExists { flag_id: *flag_id });
                    }
                    let review_on =
                        rule.review_in_days.map(|days| at.date_naive() + chrono::Days::new(u64::from(days)));
                    vec![FlagEvent::FlagRaised {
                        nhs_number,
                        flag_id: *flag_id,
                        kind: outcome.kind,
                        frailty_score: outcome.frailty_score,
                        severity: outcome.severity,
                        reason: reason.clone(),
                        review_on,
                        source,
                        at,
                    }]
                }
            }
        }
        // Decided above.
        FlagCommand::SetRule { .. } => Vec::new(),
    };
    Ok(events.into_iter().map(FlagStreamEvent::Flag).collect())
}
