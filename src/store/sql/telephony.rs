//! Lines and calls, written once for both dialects.

use async_trait::async_trait;

use super::constraints::{self, LINE_NAME, LINE_USER};
use super::schema::{LINE_COLUMNS, call_record, call_state, line_from_row, line_values};
use super::{Backend, Columns, Conn, Lock, Serial, SqlStore, found};
use crate::domain::telephony::{CallEvent, Line, LineFields, supersedes};
use crate::store::{ActiveCall, Conflict, StoreError, StoreResult, Telephony};

#[async_trait]
impl<B: Backend> Telephony for SqlStore<B> {
    async fn list_lines(&self, limit: Option<u32>, skip: u64) -> StoreResult<(u64, Vec<Line>)> {
        let mut tx = self.backend.snapshot().await?;
        let total = tx.row("SELECT COUNT(*) AS n FROM lines", &[]).await?;
        let total = total.ok_or(StoreError::NotFound)?.int("n")?;
        let limit = limit.map(i64::from).or(<B::Conn as Conn>::UNLIMITED);
        let skip = i64::try_from(skip).unwrap_or(i64::MAX);
        let sql = format!("SELECT {LINE_COLUMNS} FROM lines ORDER BY id LIMIT ? OFFSET ?");
        let rows = tx.rows(&sql, &[limit.into(), skip.into()]).await?;
        drop(tx);
        let lines = rows.iter().map(line_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((u64::try_from(total).unwrap_or(0), lines))
    }

    async fn get_line(&self, id: i64) -> StoreResult<Line> {
        let sql = format!("SELECT {LINE_COLUMNS} FROM lines WHERE id = ?");
        let row = self.backend.reader().await?.row(&sql, &[id.into()]).await?;
        line_from_row(&row.ok_or(StoreError::NotFound)?)
    }

    async fn find_line(&self, name: &str) -> StoreResult<Line> {
        let sql = format!("SELECT {LINE_COLUMNS} FROM lines WHERE name = ?");
        let row = self.backend.reader().await?.row(&sql, &[name.into()]).await?;
        line_from_row(&row.ok_or(StoreError::NotFound)?)
    }

    async fn create_line(&self, f: &LineFields) -> StoreResult<Line> {
        let mut tx = self.backend.begin().await?;
        let next = tx.last_id(Serial::Lines).await?.map(|last| last + 1);
        let mut args = vec![next.into()];
        args.extend(line_values(f));
        let row = tx
            .row("INSERT INTO lines (id, name, protocol, context, number) VALUES (?, ?, ?, ?, ?) RETURNING id", &args)
            .await
            .map_err(|e| constraints::map(e, &[(&LINE_NAME, Conflict::LineNameTaken)]))?;
        let id = row.ok_or(StoreError::NotFound)?.int("id")?;
        if next.is_some() {
            tx.set_last_id(Serial::Lines, id).await?;
        }
        self.backend.commit(tx).await?;
        Ok(Line { id, fields: f.clone(), user_id: None })
    }

    async fn update_line(&self, id: i64, f: &LineFields) -> StoreResult<()> {
        let mut args = line_values(f).to_vec();
        args.push(id.into());
        let sql = "UPDATE lines SET name = ?, protocol = ?, context = ?, number = ? WHERE id = ?";
        let done = self
            .backend
            .writer()
            .await?
            .run(sql, &args)
            .await
            .map_err(|e| constraints::map(e, &[(&LINE_NAME, Conflict::LineNameTaken)]))?;
        found(done)
    }

    async fn delete_line(&self, id: i64) -> StoreResult<()> {
        found(self.backend.writer().await?.run("DELETE FROM lines WHERE id = ?", &[id.into()]).await?)
    }

    async fn user_lines(&self, user_id: i64) -> StoreResult<Vec<Line>> {
        let sql = format!("SELECT {LINE_COLUMNS} FROM lines WHERE user_id = ? ORDER BY id");
        let rows = self.backend.reader().await?.rows(&sql, &[user_id.into()]).await?;
        rows.iter().map(line_from_row).collect()
    }

    async fn set_line_user(&self, line_id: i64, user: Option<i64>) -> StoreResult<()> {
        let mut c = self.backend.writer().await?;
        let done = match user {
            Some(user_id) => {
                let updated = c
                    .run(
                        "UPDATE lines SET user_id = ? WHERE id = ? AND user_id IS NULL \
                         AND EXISTS (SELECT 1 FROM users WHERE id = ?)",
                        &[user_id.into(), line_id.into(), user_id.into()],
                    )
                    .await;
                match updated {
                    Ok(done) => done,
                    // The user was deleted after the test above: as if the test had failed.
                    Err(e) if constraints::broken(&e, &[&LINE_USER]).is_some() => 0,
                    Err(e) => return Err(e.into()),
                }
            }
            None => c.run("UPDATE lines SET user_id = NULL WHERE id = ?", &[line_id.into()]).await?,
        };
        if done > 0 {
            return Ok(());
        }
        let exists = c.row("SELECT 1 AS one FROM lines WHERE id = ?", &[line_id.into()]).await?;
        Err(if exists.is_some() { StoreError::Conflict(Conflict::StateChanged) } else { StoreError::NotFound })
    }

    async fn record_calls(&self, events: &[(i64, CallEvent)], received_us: i64) -> StoreResult<()> {
        let mut tx = self.backend.begin().await?;
        tx.lock(Lock::Calls).await?;
        for (line_id, event) in events {
            let held = tx
                .row(
                    "SELECT state, at_us FROM calls WHERE line_id = ? AND call_id = ?",
                    &[(*line_id).into(), (&event.call_id).into()],
                )
                .await?
                .map(|row| call_record(&row))
                .transpose()?;
            if !supersedes(held, event.state, event.at_us) {
                continue;
            }
            tx.run(
                "INSERT INTO calls (line_id, call_id, state, at_us, since_us, seen_us) VALUES (?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (line_id, call_id) DO UPDATE SET state = excluded.state, at_us = excluded.at_us, \
                 seen_us = excluded.seen_us",
                &[
                    (*line_id).into(),
                    (&event.call_id).into(),
                    event.state.as_str().into(),
                    event.at_us.into(),
                    event.at_us.into(),
                    received_us.into(),
                ],
            )
            .await?;
        }
        self.backend.commit(tx).await
    }

    async fn active_calls(&self) -> StoreResult<Vec<ActiveCall>> {
        // On the writer: the answer must include the calls just recorded.
        let rows = self
            .backend
            .writer()
            .await?
            .rows(
                "SELECT c.line_id, l.name, l.user_id, c.call_id, c.state, c.since_us, c.at_us, c.seen_us FROM calls c \
                 JOIN lines l ON l.id = c.line_id WHERE c.state != 'idle' \
                 ORDER BY c.at_us, c.line_id, c.call_id COLLATE BINARY",
                &[],
            )
            .await?;
        rows.iter()
            .map(|row| {
                Ok(ActiveCall {
                    line_id: row.int("line_id")?,
                    line: row.text("name")?,
                    user_id: row.opt_int("user_id")?,
                    call_id: row.text("call_id")?,
                    state: call_state(row)?,
                    since_us: row.int("since_us")?,
                    at_us: row.int("at_us")?,
                    seen_us: row.int("seen_us")?,
                })
            })
            .collect()
    }

    async fn user_on_phone(&self, user_id: i64) -> StoreResult<bool> {
        // On the writer: the answer must include the calls just recorded.
        let on = self
            .backend
            .writer()
            .await?
            .row(
                "SELECT 1 AS one FROM calls c JOIN lines l ON l.id = c.line_id \
                 WHERE l.user_id = ? AND c.state != 'idle' LIMIT 1",
                &[user_id.into()],
            )
            .await?;
        Ok(on.is_some())
    }

    async fn purge_ended_calls(&self, before_us: i64) -> StoreResult<()> {
        // No lock: `record_calls` never changes an ended call, so a purge meanwhile is as if
        // it came after.
        let sql = "DELETE FROM calls WHERE state = 'idle' AND seen_us < ?";
        self.backend.writer().await?.run(sql, &[before_us.into()]).await?;
        Ok(())
    }
}
