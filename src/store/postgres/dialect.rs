//! How a PostgreSQL connection runs the store's SQL, written in SQLite's spelling: `?`
//! placeholders become `$1`, `$2`…, `COLLATE BINARY` (SQLite's bytewise order) becomes
//! `COLLATE "C"`, and text is bound escaped and read back unescaped (see [`super::escape`]).

use async_trait::async_trait;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::{PgConnection, Postgres};

use super::{escape, ids};
use crate::store::StoreResult;
use crate::store::events::Event;
use crate::store::sql::{Conn, Lock, Serial, Value, history};

/// `sql` in PostgreSQL's spelling (placeholders outside quoted literals).
fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let (mut quoted, mut placeholder) = (false, 0);
    for c in sql.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                placeholder += 1;
                out.push('$');
                out.push_str(&placeholder.to_string());
            }
            c => out.push(c),
        }
    }
    out.replace("COLLATE BINARY", "COLLATE \"C\"")
}

type Query<'q> = sqlx::query::Query<'q, Postgres, PgArguments>;

fn query<'q>(sql: &'q str, args: &'q [Value<'_>]) -> Query<'q> {
    args.iter().fold(sqlx::query(sql), |query, value| match value {
        Value::Int(int) => query.bind(*int),
        Value::Flag(flag) => query.bind(*flag),
        Value::Text(text) => query.bind(text.as_deref().map(escape::encode)),
        Value::Stored(text) => query.bind(text.as_str()),
    })
}

#[async_trait]
impl Conn for PgConnection {
    type Row = PgRow;

    /// `LIMIT NULL` is none.
    const UNLIMITED: Option<i64> = None;
    /// Keeps the row from being deleted (or its key changed) until the transaction ends, so
    /// that a concurrent deletion cannot break a foreign key and abort a whole group.
    const KEY_SHARE: &'static str = " FOR KEY SHARE";
    const FOR_UPDATE: &'static str = " FOR UPDATE";

    async fn rows(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Vec<PgRow>, sqlx::Error> {
        query(&translate(sql), args).fetch_all(self).await
    }

    async fn row(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Option<PgRow>, sqlx::Error> {
        query(&translate(sql), args).fetch_optional(self).await
    }

    async fn run(&mut self, sql: &str, args: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        Ok(query(&translate(sql), args).execute(self).await?.rows_affected())
    }

    fn contains(haystack: &str, needle: &str) -> (String, Value<'static>) {
        escape::contains(haystack, needle)
    }

    async fn lock(&mut self, lock: Lock) -> StoreResult<()> {
        ids::lock(self, lock).await
    }

    async fn last_id(&mut self, serial: Serial) -> StoreResult<Option<i64>> {
        ids::last_id(self, serial).await.map(Some)
    }

    async fn set_last_id(&mut self, serial: Serial, last: i64) -> StoreResult<()> {
        ids::set_last_id(self, serial, last).await
    }

    /// Takes the log's lock until commit, so that sequence numbers follow commit order.
    async fn append(&mut self, event: &Event) -> StoreResult<i64> {
        let stored = event.encode();
        let seq = sqlx::query_scalar("SELECT ctid_append_event($1, $2, $3)")
            .bind(stored.kind)
            .bind(stored.user_id)
            .bind(stored.payload)
            .fetch_one(&mut *self)
            .await?;
        history::record(self, &[seq], std::slice::from_ref(event)).await?;
        Ok(seq)
    }

    /// One statement: the function runs once per row, in the order of the rows.
    async fn append_all(&mut self, events: &[Event]) -> StoreResult<Vec<i64>> {
        let (mut kinds, mut users, mut payloads) = (Vec::new(), Vec::new(), Vec::new());
        for event in events {
            let stored = event.encode();
            kinds.push(stored.kind);
            users.push(stored.user_id);
            payloads.push(stored.payload);
        }
        let seqs = sqlx::query_scalar(
            "SELECT ctid_append_event(e.kind, e.user_id, e.payload) FROM unnest($1::text[], $2::bigint[], \
             $3::text[]) WITH ORDINALITY AS e(kind, user_id, payload, n) ORDER BY e.n",
        )
        .bind(kinds)
        .bind(users)
        .bind(payloads)
        .fetch_all(&mut *self)
        .await?;
        history::record(self, &seqs, events).await?;
        Ok(seqs)
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn placeholders_are_numbered_outside_literals() {
        assert_eq!(
            translate("SELECT '?' , a FROM t WHERE b = ? AND c = ? ORDER BY d COLLATE BINARY"),
            "SELECT '?' , a FROM t WHERE b = $1 AND c = $2 ORDER BY d COLLATE \"C\""
        );
    }
}
