//! The status catalog, written once for both dialects.

use async_trait::async_trait;

use super::schema::{STATUS_ATTRIBUTES, assignments, insert_status, status_columns, status_from_row, status_values};
use super::{Backend, Columns, Conn, Lock, SqlStore, found};
use crate::domain::status::StatusMessage;
use crate::store::{Catalog, StoreResult};

#[async_trait]
impl<B: Backend> Catalog for SqlStore<B> {
    async fn list_status_messages(&self) -> StoreResult<Vec<StatusMessage>> {
        let sql = format!("SELECT {} FROM status_messages ORDER BY position", status_columns());
        let rows = self.backend.reader().await?.rows(&sql, &[]).await?;
        rows.iter().map(status_from_row).collect()
    }

    async fn create_status_message(&self, status: &StatusMessage) -> StoreResult<()> {
        let mut tx = self.backend.begin().await?;
        tx.lock(Lock::Catalog).await?;
        let next = tx.row("SELECT coalesce(max(position), -1) + 1 AS next FROM status_messages", &[]).await?;
        let position = next.map_or(Ok(0), |row| row.int("next"))?;
        insert_status(&mut *tx, status, position).await?;
        self.backend.commit(tx).await
    }

    async fn update_status_message(&self, s: &StatusMessage) -> StoreResult<()> {
        let sql = format!("UPDATE status_messages SET {} WHERE status_key = ?", assignments(&STATUS_ATTRIBUTES));
        let mut args = status_values(s).to_vec();
        args.push(s.status_id.to_lowercase().into());
        let done = self.backend.writer().await?.run(&sql, &args).await?;
        found(done)?;
        self.backend.logged().await
    }

    /// Also deletes the schedules naming the status, and the return to it of other statuses.
    async fn delete_status_message(&self, status_id: &str) -> StoreResult<()> {
        let mut tx = self.backend.begin().await?;
        let sql = "DELETE FROM status_messages WHERE status_key = ? AND NOT built_in RETURNING status_id";
        let Some(row) = tx.row(sql, &[status_id.to_lowercase().into()]).await? else {
            return Err(crate::store::StoreError::NotFound);
        };
        let deleted = row.text("status_id")?;
        tx.run("UPDATE status_messages SET return_status_id = NULL WHERE return_status_id = ?", &[(&deleted).into()])
            .await?;
        tx.run("DELETE FROM scheduled_statuses WHERE status_id = ?", &[(&deleted).into()]).await?;
        self.backend.commit(tx).await
    }
}
