//! Lines, their users, and the calls a PBX reports: who is on the phone.

use std::collections::HashSet;
use std::time::Duration;

use super::{AppError, AppResult};
use crate::domain::telephony::{self, CallEvent, CallState, Line, LineChanges};
use crate::domain::validation::ValidationError;
use crate::presence::Presence;
use crate::store::{ActiveCall, Conflict, Store, StoreError};

/// ctid's clock in Unix microseconds.
fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

pub fn line_not_found(id: i64) -> AppError {
    AppError::NotFound(format!("Line with id={id} does not exist"))
}

fn name_taken(name: &str) -> AppError {
    ValidationError::invalid(format!("line name {name} already exists")).into()
}

pub async fn list(store: &dyn Store, limit: Option<u32>, skip: u64) -> AppResult<(u64, Vec<Line>)> {
    Ok(store.list_lines(limit, skip).await?)
}

pub async fn get(store: &dyn Store, id: i64) -> AppResult<Line> {
    store.get_line(id).await.map_err(|e| match e {
        StoreError::NotFound => line_not_found(id),
        other => other.into(),
    })
}

pub async fn create(store: &dyn Store, changes: LineChanges) -> AppResult<Line> {
    let fields = telephony::validate_new(changes)?;
    store.create_line(&fields).await.map_err(|e| match e {
        StoreError::Conflict(Conflict::LineNameTaken) => name_taken(&fields.name),
        other => other.into(),
    })
}

pub async fn update(store: &dyn Store, id: i64, changes: LineChanges) -> AppResult<()> {
    let existing = get(store, id).await?;
    let fields = telephony::validate_edit(&existing.fields, changes)?;
    store.update_line(id, &fields).await.map_err(|e| match e {
        StoreError::NotFound => line_not_found(id),
        StoreError::Conflict(Conflict::LineNameTaken) => name_taken(&fields.name),
        other => other.into(),
    })
}

/// Deletes a line and its calls; its user may come off the phone.
pub async fn delete(presence: &Presence, id: i64) -> AppResult<()> {
    let line = get(presence.store(), id).await?;
    presence.store().delete_line(id).await.map_err(|e| match e {
        StoreError::NotFound => line_not_found(id),
        other => other.into(),
    })?;
    if let Some(user) = line.user_id {
        refresh(presence, user, super::now()).await?;
    }
    Ok(())
}

/// The lines of an existing user.
pub async fn user_lines(store: &dyn Store, user_id: i64) -> AppResult<Vec<Line>> {
    super::users::get(store, user_id).await?;
    Ok(store.user_lines(user_id).await?)
}

fn no_line(user_id: i64, line_id: i64) -> AppError {
    AppError::NotFound(format!("User with id={user_id} does not have line {line_id}"))
}

/// The association of a user with one of their lines.
pub async fn user_line(store: &dyn Store, user_id: i64, line_id: i64) -> AppResult<Line> {
    super::users::get(store, user_id).await?;
    match store.get_line(line_id).await {
        Ok(line) if line.user_id == Some(user_id) => Ok(line),
        Ok(_) | Err(StoreError::NotFound) => Err(no_line(user_id, line_id)),
        Err(other) => Err(other.into()),
    }
}

/// Gives a free line to a user; the line's calls count for them from now on.
pub async fn associate(presence: &Presence, user_id: i64, line_id: Option<i64>) -> AppResult<Line> {
    let store = presence.store();
    super::users::get(store, user_id).await?;
    let line_id = line_id.ok_or_else(|| ValidationError::Missing(vec!["line_id".into()]))?;
    let nonexistent = || ValidationError::Nonexistent("line_id".into(), line_id.to_string());
    match store.set_line_user(line_id, Some(user_id)).await {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(nonexistent().into()),
        Err(StoreError::Conflict(Conflict::StateChanged)) => {
            // Either the line has a user, or the user was deleted meanwhile.
            super::users::get(store, user_id).await?;
            return Err(
                ValidationError::invalid(format!("line with id {line_id} is already associated to a user")).into()
            );
        }
        Err(other) => return Err(other.into()),
    }
    refresh(presence, user_id, super::now()).await?;
    get(store, line_id).await
}

/// Takes a line from its user.
pub async fn dissociate(presence: &Presence, user_id: i64, line_id: i64) -> AppResult<()> {
    let store = presence.store();
    user_line(store, user_id, line_id).await?;
    store.set_line_user(line_id, None).await.map_err(|e| match e {
        StoreError::NotFound => no_line(user_id, line_id),
        other => other.into(),
    })?;
    refresh(presence, user_id, super::now()).await
}

async fn refresh(presence: &Presence, user_id: i64, at: i64) -> AppResult<()> {
    presence.refresh_on_phone(user_id, at).await.map_err(|_| AppError::Unavailable)
}

/// Records what a PBX reports, all or nothing as to validity: an unknown line refuses the
/// whole request. Users whose on-phone state flips get a status change like any other.
pub async fn record(presence: &Presence, events: Vec<CallEvent>) -> AppResult<()> {
    let store = presence.store();
    let mut resolved = Vec::with_capacity(events.len());
    let mut lines_users = Vec::with_capacity(events.len());
    for event in events {
        let line = match store.find_line(&event.line).await {
            Ok(line) => line,
            Err(StoreError::NotFound) => {
                return Err(ValidationError::Nonexistent("line".into(), event.line).into());
            }
            Err(other) => return Err(other.into()),
        };
        lines_users.push(line.user_id);
        resolved.push((line.id, event));
    }
    let latest = resolved.iter().map(|(_, e)| e.at_us).max().unwrap_or(0);
    store.record_calls(&resolved, now_us()).await?;
    // Every user of the lines named, not only those whose calls changed: a report repeated
    // after a failed answer still brings its user's state in line.
    let mut users: Vec<i64> = lines_users.into_iter().flatten().collect();
    users.sort_unstable();
    users.dedup();
    let flipped_at = latest.div_euclid(1_000_000).min(super::now());
    for user in users {
        refresh(presence, user, flipped_at).await?;
    }
    Ok(())
}

/// Replaces the calls ctid holds by the complete set a PBX reports after its restart: every
/// held call missing from it ends now.
pub async fn resync(presence: &Presence, calls: Vec<CallEvent>) -> AppResult<()> {
    let listed: HashSet<(String, String)> = calls.iter().map(|c| (c.line.clone(), c.call_id.clone())).collect();
    let now_us = now_us();
    let mut events: Vec<CallEvent> = presence
        .store()
        .active_calls()
        .await?
        .into_iter()
        .filter(|c| !listed.contains(&(c.line.clone(), c.call_id.clone())))
        .map(|c| ended(&c, now_us))
        .collect();
    events.extend(calls);
    record(presence, events).await
}

/// The end of a held call, later than every report of it whatever the PBX's clock said.
fn ended(call: &ActiveCall, now_us: i64) -> CallEvent {
    let at_us = now_us.max(call.at_us.saturating_add(1));
    CallEvent { line: call.line.clone(), call_id: call.call_id.clone(), state: CallState::Idle, at_us }
}

/// The calls that have not ended.
pub async fn active(store: &dyn Store) -> AppResult<Vec<ActiveCall>> {
    Ok(store.active_calls().await?)
}

/// Ends calls without a report received for longer than `max_age` (by ctid's clock, so a
/// PBX's clock being off does not matter) and forgets ended ones as old;
/// returns how many calls were ended.
pub async fn expire(presence: &Presence, max_age: Duration) -> AppResult<usize> {
    let now_us = now_us();
    let cutoff = now_us.saturating_sub(i64::try_from(max_age.as_micros()).unwrap_or(i64::MAX));
    let stale: Vec<CallEvent> = presence
        .store()
        .active_calls()
        .await?
        .iter()
        .filter(|c| c.seen_us < cutoff)
        .map(|c| ended(c, now_us))
        .collect();
    let count = stale.len();
    if count > 0 {
        record(presence, stale).await?;
    }
    presence.store().purge_ended_calls(cutoff).await?;
    Ok(count)
}
