//! Users' presence: read, and committed in groups (see [`crate::store::group_commit`]).

use async_trait::async_trait;

use super::schema::{USER_STATUS_COLUMNS, user_status_from_row, user_status_values};
use super::{Backend, Conn, SqlStore, placeholders};
use crate::domain::presence::{PreviousInfo, UserStatus};
use crate::domain::session::{Actor, Cause};
use crate::store::events::{Event, LoggedEvent};
use crate::store::group_commit::{Change, WriteGroup};
use crate::store::{Statuses, StoreError, StoreResult};

/// Writes `s` if its user exists (keeping the user from being deleted until the transaction
/// ends); returns whether it did.
pub(super) async fn upsert<C: Conn>(c: &mut C, s: &UserStatus) -> StoreResult<bool> {
    upsert_with(c, &upsert_sql::<C>(), s).await
}

/// The statement of [`upsert`], built once per group by the grouped commit.
fn upsert_sql<C: Conn>() -> String {
    let updates = USER_STATUS_COLUMNS
        .split(", ")
        .skip(1)
        .map(|column| format!("{column} = excluded.{column}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "INSERT INTO user_statuses ({USER_STATUS_COLUMNS}) SELECT {} \
         WHERE EXISTS (SELECT 1 FROM users WHERE id = ?{}) ON CONFLICT (user_id) DO UPDATE SET {updates}",
        placeholders(10),
        C::KEY_SHARE
    )
}

async fn upsert_with<C: Conn>(c: &mut C, sql: &str, s: &UserStatus) -> StoreResult<bool> {
    let mut args = user_status_values(s).to_vec();
    args.push(s.user_id.into());
    Ok(c.run(sql, &args).await? > 0)
}

/// Writes one group of status changes in one transaction, each with its event (the status as
/// committed and the request that caused it): one flush to disk, and on PostgreSQL one hold
/// of the event log's lock, for all of them.
pub(super) struct GroupWriter<B>(pub(super) B);

#[async_trait]
impl<B: Backend> WriteGroup for GroupWriter<B> {
    async fn write(&self, group: &[Change]) -> StoreResult<Vec<Option<i64>>> {
        let mut tx = self.0.begin().await?;
        let mut found = Vec::with_capacity(group.len());
        let mut events = Vec::with_capacity(group.len());
        let sql = upsert_sql::<B::Conn>();
        for change in group {
            let written = upsert_with(&mut *tx, &sql, &change.status).await?;
            if written {
                let actor = if change.cause.is_some() { Actor::User } else { Actor::Pbx };
                events.push(Event::Status { status: change.status.clone(), cause: change.cause.clone(), actor });
            }
            found.push(written);
        }
        // One statement for the group's events.
        let seqs = tx.append_all(&events).await?;
        let mut numbers = seqs.iter().copied();
        let found = found.into_iter().map(|written| if written { numbers.next() } else { None }).collect();
        let appended = seqs.into_iter().zip(events).map(|(seq, event)| LoggedEvent { seq, event: Some(event) });
        self.0.commit_statuses(tx, appended.collect()).await?;
        Ok(found)
    }
}

#[async_trait]
impl<B: Backend> Statuses for SqlStore<B> {
    async fn get_user_status(&self, user_id: i64) -> StoreResult<UserStatus> {
        let sql = format!("SELECT {USER_STATUS_COLUMNS} FROM user_statuses WHERE user_id = ?");
        let row = self.backend.reader().await?.row(&sql, &[user_id.into()]).await?;
        user_status_from_row(&row.ok_or(StoreError::NotFound)?)
    }

    async fn save_user_status(&self, status: &UserStatus, cause: Option<&Cause>) -> StoreResult<i64> {
        self.statuses.save(status, cause).await
    }

    /// Read from the history.
    async fn previous_info(&self, user_id: i64) -> StoreResult<Vec<PreviousInfo>> {
        super::history::previous_info(&mut *self.backend.reader().await?, user_id).await
    }
}
