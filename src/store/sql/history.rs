//! The presence history: written with the events it records, read by window and filters,
//! purged in bounded batches.

use async_trait::async_trait;

use super::{Backend, Columns, Conn, SqlStore, Value};
use crate::domain::clock::now_ms;
use crate::domain::history::{ActorType, HistoryKind, HistoryQuery, HistoryRecord, HistoryValues};
use crate::domain::listing::Direction;
use crate::domain::presence::PreviousInfo;
use crate::store::events::{ActorName, Event};
use crate::store::{History, StoreError, StoreResult};

const COLUMNS: &str = "id, at, user_id, username, kind, status_id, notes, forward_number, until_at, on_phone, \
                       station, session_id, actor_type, actor_name";

/// The values of one row, in the order of the `VALUES` row [`record`] writes.
const ROW: &str = "(?, ?, ?, (SELECT username FROM users WHERE id = ?), ?, ?, ?, ?, ?, ?, ?, ?, ?, \
                   CASE WHEN ? THEN (SELECT username FROM users WHERE id = ?) ELSE ? END)";
const ROW_VALUES: usize = 16;

/// Records in transaction `c` the history of `events`, numbered `seqs`: one row per event
/// that changes a user's presence, all in one statement.
pub(crate) async fn record<C: Conn + ?Sized>(c: &mut C, seqs: &[i64], events: &[Event]) -> StoreResult<()> {
    let at = now_ms();
    let entries: Vec<_> = seqs.iter().zip(events).filter_map(|(seq, event)| Some((*seq, event.history()?))).collect();
    // Well within the bound parameters a statement may take on either database.
    for chunk in entries.chunks(2000 / ROW_VALUES) {
        let mut args: Vec<Value<'_>> = Vec::with_capacity(chunk.len() * ROW_VALUES);
        for (seq, entry) in chunk {
            let v = &entry.values;
            let (subject, name) = match &entry.actor_name {
                ActorName::None => (false, None),
                ActorName::Given(name) => (false, Some(name.as_str())),
                ActorName::Subject => (true, None),
            };
            args.extend([
                Value::from(*seq),
                at.into(),
                entry.user_id.into(),
                entry.user_id.into(),
                entry.kind.as_str().into(),
                (&v.status_id).into(),
                (&v.notes).into(),
                (&v.forward_number).into(),
                v.until.into(),
                Value::Int(v.on_phone.map(i64::from)),
                (&v.station).into(),
                (&v.session_id).into(),
                entry.actor.as_str().into(),
                subject.into(),
                entry.user_id.into(),
                name.into(),
            ]);
        }
        let rows = vec![ROW; chunk.len()].join(", ");
        c.run(&format!("INSERT INTO history ({COLUMNS}) VALUES {rows}"), &args).await?;
    }
    Ok(())
}

fn record_from_row(row: &impl Columns) -> StoreResult<HistoryRecord> {
    let kind = row.text("kind")?;
    let actor = row.text("actor_type")?;
    Ok(HistoryRecord {
        id: row.int("id")?,
        at: row.int("at")?,
        user_id: row.int("user_id")?,
        username: row.opt_text("username")?,
        kind: HistoryKind::parse(&kind).ok_or_else(|| StoreError::Corrupt(format!("history kind {kind}")))?,
        values: HistoryValues {
            status_id: row.opt_text("status_id")?,
            notes: row.opt_text("notes")?,
            forward_number: row.opt_text("forward_number")?,
            until: row.opt_int("until_at")?,
            on_phone: row.opt_int("on_phone")?.map(|flag| flag != 0),
            station: row.opt_text("station")?,
            session_id: row.opt_text("session_id")?,
        },
        actor: ActorType::parse(&actor).ok_or_else(|| StoreError::Corrupt(format!("history actor {actor}")))?,
        actor_name: row.opt_text("actor_name")?,
    })
}

/// The `WHERE` clause of `query` and its values.
fn filter(query: &HistoryQuery) -> (String, Vec<Value<'_>>) {
    let mut clause = String::from(" WHERE at >= ? AND at < ?");
    let mut args = vec![Value::from(query.window.from), query.window.to.into()];
    if let Some(user) = query.user_id {
        clause.push_str(" AND user_id = ?");
        args.push(user.into());
    }
    if let Some(status) = &query.status_id {
        clause.push_str(" AND status_id = ?");
        args.push(status.into());
    }
    if let Some(kind) = query.kind {
        clause.push_str(" AND kind = ?");
        args.push(kind.as_str().into());
    }
    (clause, args)
}

#[async_trait]
impl<B: Backend> History for SqlStore<B> {
    async fn history(&self, query: &HistoryQuery) -> StoreResult<(u64, Vec<HistoryRecord>)> {
        let (clause, mut args) = filter(query);
        // One snapshot: the total and the page agree.
        let mut tx = self.backend.snapshot().await?;
        let total = tx.row(&format!("SELECT COUNT(*) AS n FROM history{clause}"), &args).await?;
        let total = total.ok_or(StoreError::NotFound)?.int("n")?;
        let direction = match query.direction {
            Direction::Asc => "ASC",
            Direction::Desc => "DESC",
        };
        let sql =
            format!("SELECT {COLUMNS} FROM history{clause} ORDER BY at {direction}, id {direction} LIMIT ? OFFSET ?");
        args.push(query.limit.map(i64::from).or(B::Conn::UNLIMITED).into());
        args.push(i64::try_from(query.skip).unwrap_or(i64::MAX).into());
        let rows = tx.rows(&sql, &args).await?;
        let records = rows.iter().map(record_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((u64::try_from(total).unwrap_or(0), records))
    }

    async fn history_after(
        &self,
        query: &HistoryQuery,
        after: Option<(i64, i64)>,
        limit: i64,
    ) -> StoreResult<Vec<HistoryRecord>> {
        let (mut clause, mut args) = filter(query);
        if let Some((at, id)) = after {
            clause.push_str(" AND (at > ? OR (at = ? AND id > ?))");
            args.extend([Value::from(at), at.into(), id.into()]);
        }
        let sql = format!("SELECT {COLUMNS} FROM history{clause} ORDER BY at, id LIMIT ?");
        args.push(limit.into());
        let rows = self.backend.reader().await?.rows(&sql, &args).await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn purge_history(&self, before: i64, batch: i64) -> StoreResult<u64> {
        // A user's last status and phone records stay, however old: they tell the reports
        // (and previous info) what the user has held since.
        let sql = "DELETE FROM history WHERE id IN (SELECT h.id FROM history h WHERE h.at < ? \
                   AND (h.kind NOT IN ('status', 'phone') OR EXISTS (SELECT 1 FROM history n \
                   WHERE n.user_id = h.user_id AND n.kind = h.kind AND n.at > h.at)) ORDER BY h.at LIMIT ?)";
        Ok(self.backend.writer().await?.run(sql, &[before.into(), batch.into()]).await?)
    }

    async fn history_record(&self, id: i64) -> StoreResult<Option<HistoryRecord>> {
        let sql = format!("SELECT {COLUMNS} FROM history WHERE id = ?");
        let row = self.backend.reader().await?.row(&sql, &[id.into()]).await?;
        row.as_ref().map(record_from_row).transpose()
    }
}

/// The last record of each status user `user_id` held; a status keeps its spelling while it
/// is in the catalog, so the join finds it as it was written.
pub(super) async fn previous_info(c: &mut impl Conn, user_id: i64) -> StoreResult<Vec<PreviousInfo>> {
    let sql = "SELECT h.status_id, h.notes, h.forward_number FROM history h \
               JOIN (SELECT status_id, max(id) AS id FROM history WHERE user_id = ? AND kind = 'status' \
               GROUP BY status_id) l ON l.id = h.id \
               JOIN status_messages m ON m.status_id = h.status_id ORDER BY m.position";
    let rows = c.rows(sql, &[user_id.into()]).await?;
    rows.iter().map(super::schema::previous_info_from_row).collect()
}
