//! How an SQLite connection runs the store's SQL: as written.

use async_trait::async_trait;
use sqlx::sqlite::{SqliteArguments, SqliteRow};
use sqlx::{Sqlite, SqliteConnection};

use crate::store::StoreResult;
use crate::store::events::Event;
use crate::store::sql::{Conn, Lock, Serial, TextCodec, Value, history};

impl TextCodec for Sqlite {}

type Query<'q> = sqlx::query::Query<'q, Sqlite, SqliteArguments<'q>>;

fn query<'q>(sql: &'q str, args: &'q [Value<'_>]) -> Query<'q> {
    args.iter().fold(sqlx::query(sql), |query, value| match value {
        Value::Int(int) => query.bind(*int),
        Value::Flag(flag) => query.bind(*flag),
        Value::Text(text) => query.bind(text.as_deref()),
        Value::Stored(text) => query.bind(text.as_str()),
    })
}

#[async_trait]
impl Conn for SqliteConnection {
    type Row = SqliteRow;

    /// A negative limit is none.
    const UNLIMITED: Option<i64> = Some(-1);
    /// The one writer keeps anyone from deleting meanwhile.
    const KEY_SHARE: &'static str = "";
    const FOR_UPDATE: &'static str = "";

    async fn rows(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Vec<SqliteRow>, sqlx::Error> {
        query(sql, args).fetch_all(self).await
    }

    async fn row(&mut self, sql: &str, args: &[Value<'_>]) -> Result<Option<SqliteRow>, sqlx::Error> {
        query(sql, args).fetch_optional(self).await
    }

    async fn run(&mut self, sql: &str, args: &[Value<'_>]) -> Result<u64, sqlx::Error> {
        Ok(query(sql, args).execute(self).await?.rows_affected())
    }

    fn contains(haystack: &str, needle: &str) -> (String, Value<'static>) {
        (format!("instr({haystack}, ?) > 0"), needle.to_string().into())
    }

    /// One writer: every write transaction is serialized already.
    async fn lock(&mut self, _lock: Lock) -> StoreResult<()> {
        Ok(())
    }

    /// AUTOINCREMENT hands out ids as the store wants them.
    async fn last_id(&mut self, _serial: Serial) -> StoreResult<Option<i64>> {
        Ok(None)
    }

    /// AUTOINCREMENT keeps the largest id inserted.
    async fn set_last_id(&mut self, _serial: Serial, _last: i64) -> StoreResult<()> {
        Ok(())
    }

    async fn append(&mut self, event: &Event) -> StoreResult<i64> {
        let stored = event.encode();
        let seq = sqlx::query_scalar("INSERT INTO events (kind, user_id, payload) VALUES (?, ?, ?) RETURNING seq")
            .bind(stored.kind)
            .bind(stored.user_id)
            .bind(stored.payload)
            .fetch_one(&mut *self)
            .await?;
        history::record(self, &[seq], std::slice::from_ref(event)).await?;
        Ok(seq)
    }

    /// One `INSERT` of many rows: numbers are handed out in the order of the rows.
    async fn append_all(&mut self, events: &[Event]) -> StoreResult<Vec<i64>> {
        let mut seqs = Vec::with_capacity(events.len());
        // Well within SQLite's limit of bound parameters per statement.
        for chunk in events.chunks(1000) {
            let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let sql = format!("INSERT INTO events (kind, user_id, payload) VALUES {rows} RETURNING seq");
            let mut insert = sqlx::query_scalar::<_, i64>(&sql);
            for event in chunk {
                let stored = event.encode();
                insert = insert.bind(stored.kind).bind(stored.user_id).bind(stored.payload);
            }
            let mut numbers = insert.fetch_all(&mut *self).await?;
            numbers.sort_unstable();
            seqs.extend(numbers);
        }
        history::record(self, &seqs, events).await?;
        Ok(seqs)
    }
}
