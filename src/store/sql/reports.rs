//! The time-in-status report: whole UTC days from the daily rollups, the rest (partial days,
//! today, days not rolled up yet) computed from the raw history, all in one query; and the
//! compactor's rollup of one day.
//!
//! Over a span `[s, e)`, a user's intervals start at `s` with the state of their last record
//! at or before `s` (a seek per user on `history_by_user`), then at each record inside the
//! span; each ends at the next record of the same kind, or at `e`.

use std::collections::{BTreeMap, HashMap, HashSet};

use async_trait::async_trait;

use super::{Backend, Columns, Conn, SqlStore, Value, placeholders};
use crate::domain::history::Window;
use crate::domain::report::{DAY_MS, Piece, StatusTime, UserTime, day_of, pieces};
use crate::store::{Catalog, Reports, StoreResult};

/// The state at `s` of kind `kind` of each user that exists (of `users`, when given).
fn start_states(kind: &str, users: &str) -> String {
    format!(
        "SELECT u.id AS user_id, h.kind, h.status_id, h.on_phone, CAST(? AS BIGINT) AS at, h.id, \
         CAST(? AS BIGINT) AS piece_end FROM users u JOIN history h ON h.id = (SELECT x.id FROM history x \
         WHERE x.user_id = u.id AND x.kind = '{kind}' AND x.at <= ? ORDER BY x.at DESC, x.id DESC LIMIT 1) \
         WHERE 1 = 1{users}"
    )
}

/// The intervals of the raw spans `spans`, as rows `(user_id, kind, sid, ms)`, summed per
/// user, kind and status (`sid` `''` for the phone).
fn raw_time(spans: &[(i64, i64)], users: &[i64], args: &mut Vec<Value<'static>>) -> String {
    let filter = |column: &str| {
        if users.is_empty() { String::new() } else { format!(" AND {column} IN ({})", placeholders(users.len())) }
    };
    let mut parts = Vec::new();
    for &(s, e) in spans {
        for kind in ["status", "phone"] {
            parts.push(start_states(kind, &filter("u.id")));
            args.extend([Value::from(s), e.into(), s.into()]);
            args.extend(users.iter().map(|&u| Value::from(u)));
        }
        parts.push(format!(
            "SELECT h.user_id, h.kind, h.status_id, h.on_phone, h.at, h.id, CAST(? AS BIGINT) AS piece_end \
             FROM history h WHERE h.at > ? AND h.at < ? AND h.kind IN ('status', 'phone'){}",
            filter("h.user_id")
        ));
        args.extend([Value::from(e), s.into(), e.into()]);
        args.extend(users.iter().map(|&u| Value::from(u)));
    }
    format!(
        "SELECT user_id, kind, sid, CAST(sum(next_at - at) AS BIGINT) AS ms FROM (\
         SELECT user_id, kind, coalesce(status_id, '') AS sid, on_phone, at, \
         lead(at, 1, piece_end) OVER (PARTITION BY piece_end, user_id, kind ORDER BY at, id) AS next_at \
         FROM ({}) p) t WHERE kind = 'status' OR on_phone = 1 GROUP BY user_id, kind, sid",
        parts.join(" UNION ALL ")
    )
}

/// The rows of the report over `pieces`: `(user_id, username, kind, sid, ms)`.
fn report_sql(pieces: &[Piece], users: &[i64], args: &mut Vec<Value<'static>>) -> String {
    let mut sources = Vec::new();
    let days: Vec<(i64, i64)> =
        pieces.iter().filter_map(|p| if let Piece::Days(a, b) = *p { Some((a, b)) } else { None }).collect();
    if !days.is_empty() {
        let ranges = vec!["(day >= ? AND day < ?)"; days.len()].join(" OR ");
        let filter =
            if users.is_empty() { String::new() } else { format!(" AND user_id IN ({})", placeholders(users.len())) };
        // Summed in the table's key order, which streams the grouping.
        sources.push(format!(
            "SELECT user_id, kind, status_id AS sid, CAST(sum(ms) AS BIGINT) AS ms FROM status_time_days \
             WHERE ({ranges}){filter} GROUP BY user_id, kind, status_id"
        ));
        args.extend(days.iter().flat_map(|&(a, b)| [Value::from(a), b.into()]));
        args.extend(users.iter().map(|&u| Value::from(u)));
    }
    let spans: Vec<(i64, i64)> =
        pieces.iter().filter_map(|p| if let Piece::Raw(a, b) = *p { Some((a, b)) } else { None }).collect();
    if !spans.is_empty() {
        sources.push(raw_time(&spans, users, args));
    }
    format!(
        "SELECT t.user_id, u.username, t.kind, t.sid, t.ms FROM (SELECT user_id, kind, sid, \
         CAST(sum(ms) AS BIGINT) AS ms FROM ({}) s GROUP BY user_id, kind, sid) t JOIN users u ON u.id = t.user_id",
        sources.join(" UNION ALL ")
    )
}

#[async_trait]
impl<B: Backend> Reports for SqlStore<B> {
    async fn time_in_status(&self, window: Window, users: &[i64], now_ms: i64) -> StoreResult<Vec<UserTime>> {
        let (from, to) = (window.from, window.to.min(now_ms));
        if from >= to {
            return Ok(Vec::new());
        }
        let catalog = self.list_status_messages().await?;
        let mut tx = self.backend.snapshot().await?;
        let rolled = tx
            .rows(
                "SELECT day FROM status_time_rolled WHERE day >= ? AND day < ?",
                &[day_of(from).into(), (day_of(to) + 1).into()],
            )
            .await?;
        let rolled: HashSet<i64> = rolled.iter().map(|r| r.int("day")).collect::<StoreResult<_>>()?;
        let pieces = pieces(from, to, |day| rolled.contains(&day));
        let mut args = Vec::new();
        let sql = report_sql(&pieces, users, &mut args);
        let rows = tx.rows(&sql, &args).await?;
        drop(tx);
        let position: HashMap<&str, (usize, &str)> =
            catalog.iter().enumerate().map(|(i, s)| (s.status_id.as_str(), (i, s.group_tag.as_str()))).collect();
        let mut out: BTreeMap<i64, UserTime> = BTreeMap::new();
        for row in &rows {
            let ms = row.int("ms")?;
            if ms <= 0 {
                continue;
            }
            let user_id = row.int("user_id")?;
            let entry = out.entry(user_id).or_insert_with(|| UserTime {
                user_id,
                username: None,
                statuses: Vec::new(),
                on_phone_ms: 0,
            });
            entry.username = row.opt_text("username")?;
            if row.text("kind")? == "phone" {
                entry.on_phone_ms += ms;
            } else {
                let status_id = row.text("sid")?;
                let group_tag = position.get(status_id.as_str()).map(|(_, tag)| tag.to_string());
                entry.statuses.push(StatusTime { status_id, group_tag, ms });
            }
        }
        let order =
            |s: &StatusTime| (position.get(s.status_id.as_str()).map_or(usize::MAX, |p| p.0), s.status_id.clone());
        Ok(out
            .into_values()
            .map(|mut user| {
                user.statuses.sort_by_key(order);
                user
            })
            .collect())
    }

    async fn roll_up_next_day(&self, ended_before: i64, first_day: i64) -> StoreResult<Option<i64>> {
        let mut reader = self.backend.reader().await?;
        let last = reader.row("SELECT max(day) AS day FROM status_time_rolled", &[]).await?;
        let last = last.map(|r| r.opt_int("day")).transpose()?.flatten();
        let first = reader.row("SELECT min(at) AS at FROM history", &[]).await?;
        let Some(first) = first.map(|r| r.opt_int("at")).transpose()?.flatten() else { return Ok(None) };
        drop(reader);
        let day = last.map_or(i64::MIN, |d| d + 1).max(day_of(first)).max(first_day);
        if (day + 1) * DAY_MS > ended_before {
            return Ok(None);
        }
        let mut tx = self.backend.begin().await?;
        let claimed = tx
            .run(
                "INSERT INTO status_time_rolled (day, rolled_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
                &[day.into(), crate::domain::clock::now_ms().into()],
            )
            .await?;
        if claimed == 1 {
            // The day's placeholder comes first in the text.
            let mut args = vec![Value::from(day)];
            let raw = raw_time(&[(day * DAY_MS, (day + 1) * DAY_MS)], &[], &mut args);
            let sql = format!(
                "INSERT INTO status_time_days (user_id, kind, status_id, day, ms) \
                 SELECT user_id, kind, sid, CAST(? AS BIGINT), ms FROM ({raw}) r WHERE ms > 0 ON CONFLICT DO NOTHING"
            );
            tx.run(&sql, &args).await?;
        }
        self.backend.commit(tx).await?;
        Ok(Some(day))
    }

    async fn purge_rollups(&self, day: i64) -> StoreResult<u64> {
        let mut writer = self.backend.writer().await?;
        let rows = writer.run("DELETE FROM status_time_days WHERE day < ?", &[day.into()]).await?;
        writer.run("DELETE FROM status_time_rolled WHERE day < ?", &[day.into()]).await?;
        Ok(rows)
    }
}
