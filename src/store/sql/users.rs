//! Users, written once for both dialects.

use async_trait::async_trait;

use crate::domain::session::Actor;
use crate::store::events::Event;

use super::constraints::{self, USER_PROFILE, USERNAME};
use super::schema::{USER_COLUMNS, USER_FIELDS, USER_STATUS_COLUMNS, assignments, user_from_row, user_values};
use super::{Backend, Columns, Conn, Serial, SqlStore, Value, found, placeholders, statuses};
use crate::domain::listing::{Direction, UserListQuery, UserOrder};
use crate::domain::presence::UserStatus;
use crate::domain::user::{User, UserFields, username_key};
use crate::store::{Conflict, ImportedUser, StoreError, StoreResult, StoredUser, Users};

/// The columns a search looks into.
const SEARCHED: [&str; 4] = ["firstname || ' ' || lastname", "caller_id", "description", "userfield"];

/// SQLite's `lower()` (ASCII only) and bytewise order, on both.
fn order_expression(order: UserOrder) -> &'static str {
    match order {
        UserOrder::Firstname => "lower(firstname COLLATE BINARY)",
        UserOrder::Lastname => "lower(lastname COLLATE BINARY)",
        UserOrder::Fullname => "lower((firstname || ' ' || lastname) COLLATE BINARY)",
        UserOrder::CallerId => "lower(caller_id COLLATE BINARY)",
        UserOrder::Description => "lower(coalesce(description, '') COLLATE BINARY)",
        UserOrder::Userfield => "lower(coalesce(userfield, '') COLLATE BINARY)",
    }
}

/// The `WHERE` clause of a search (empty without one), and its values: the needle is
/// lower-cased by Rust (Unicode), the columns by the database's `lower()` (ASCII only).
fn search_clause<C: Conn>(query: &UserListQuery) -> (String, Vec<Value<'static>>) {
    let Some(search) = &query.search else {
        return (String::new(), Vec::new());
    };
    let needle = search.to_lowercase();
    let (terms, values): (Vec<String>, Vec<Value<'static>>) = SEARCHED
        .iter()
        .map(|column| C::contains(&format!("lower(coalesce({column}, '') COLLATE BINARY)"), &needle))
        .unzip();
    (format!(" WHERE ({})", terms.join(" OR ")), values)
}

/// Inserts a user and its initial presence, with the id `id` (`None`: the next the database
/// hands out); returns its id.
async fn insert_user(
    c: &mut impl Conn,
    id: Option<i64>,
    f: &UserFields,
    password_hash: Option<&str>,
    cti_profile_id: Option<i64>,
    now: i64,
) -> StoreResult<i64> {
    let sql = format!(
        "INSERT INTO users (id, {}, password_hash, cti_profile_id, created_at) VALUES ({}) RETURNING id",
        USER_FIELDS.join(", "),
        placeholders(USER_FIELDS.len() + 4)
    );
    let mut args = vec![id.into()];
    args.extend(user_values(f));
    args.extend([password_hash.into(), cti_profile_id.into(), now.into()]);
    let row = c.row(&sql, &args).await.map_err(|e| {
        constraints::map(e, &[(&USERNAME, Conflict::UsernameTaken), (&USER_PROFILE, Conflict::ProfileMissing)])
    })?;
    let id = row.ok_or(StoreError::NotFound)?.int("id")?;
    let status = UserStatus::initial(id, now);
    statuses::upsert(c, &status).await?;
    // The first record of the user's history.
    c.append(&Event::Status { status, cause: None, actor: Actor::Admin }).await?;
    Ok(id)
}

#[async_trait]
impl<B: Backend> Users for SqlStore<B> {
    async fn list_users(&self, query: &UserListQuery) -> StoreResult<(u64, Vec<User>)> {
        let (search, mut args) = search_clause::<B::Conn>(query);
        // One snapshot: the total and the page agree.
        let mut tx = self.backend.snapshot().await?;
        let total = tx.row(&format!("SELECT COUNT(*) AS n FROM users{search}"), &args).await?;
        let total = total.ok_or(StoreError::NotFound)?.int("n")?;
        let direction = match query.direction {
            Direction::Asc => "ASC",
            Direction::Desc => "DESC",
        };
        let order = order_expression(query.order);
        args.push(query.limit.map(i64::from).or(<B::Conn as Conn>::UNLIMITED).into());
        args.push(i64::try_from(query.skip).unwrap_or(i64::MAX).into());
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users{search} ORDER BY {order} {direction}, id {direction} LIMIT ? OFFSET ?"
        );
        let rows = tx.rows(&sql, &args).await?;
        drop(tx);
        let users = rows.iter().map(user_from_row).collect::<StoreResult<Vec<_>>>()?;
        Ok((u64::try_from(total).unwrap_or(0), users))
    }

    async fn get_user(&self, id: i64) -> StoreResult<User> {
        let mut c = self.backend.reader().await?;
        let row = c.row(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?"), &[id.into()]).await?;
        user_from_row(&row.ok_or(StoreError::NotFound)?)
    }

    async fn find_user_login(&self, username: &str) -> StoreResult<(User, Option<String>)> {
        let sql = format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE username_key = ?");
        let mut c = self.backend.reader().await?;
        let row = c.row(&sql, &[username_key(username).into()]).await?.ok_or(StoreError::NotFound)?;
        Ok((user_from_row(&row)?, row.opt_text("password_hash")?))
    }

    async fn load_users(&self, after_id: i64, limit: u32) -> StoreResult<Vec<StoredUser>> {
        let sql = format!(
            "SELECT {USER_COLUMNS}, password_hash, {USER_STATUS_COLUMNS} FROM users \
             LEFT JOIN user_statuses ON user_statuses.user_id = users.id WHERE id > ? ORDER BY id LIMIT ?"
        );
        let mut c = self.backend.reader().await?;
        let rows = c.rows(&sql, &[after_id.into(), i64::from(limit).into()]).await?;
        rows.iter()
            .map(|row| {
                let has_status = row.opt_int("user_id")?.is_some();
                Ok(StoredUser {
                    user: user_from_row(row)?,
                    password_hash: row.opt_text("password_hash")?,
                    status: if has_status { Some(super::schema::user_status_from_row(row)?) } else { None },
                })
            })
            .collect()
    }

    async fn create_user(&self, f: &UserFields, password_hash: Option<&str>, now: i64) -> StoreResult<User> {
        let mut tx = self.backend.begin().await?;
        let next = tx.last_id(Serial::Users).await?.map(|last| last + 1);
        let id = insert_user(&mut *tx, next, f, password_hash, None, now).await?;
        if next.is_some() {
            tx.set_last_id(Serial::Users, id).await?;
        }
        self.backend.commit(tx).await?;
        Ok(User { id, fields: f.clone(), cti_profile_id: None })
    }

    async fn import_users(&self, rows: &[ImportedUser], now: i64) -> StoreResult<usize> {
        let mut tx = self.backend.begin().await?;
        let mut last = tx.last_id(Serial::Users).await?;
        for (index, row) in rows.iter().enumerate() {
            let next = last.map(|id| id + 1);
            let id = insert_user(&mut *tx, next, &row.fields, row.password_hash.as_deref(), row.cti_profile_id, now)
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(Conflict::UsernameTaken) => {
                        StoreError::Conflict(Conflict::UsernameTakenAt(index))
                    }
                    other => other,
                })?;
            last = last.map(|_| id);
        }
        if let Some(last) = last.filter(|_| !rows.is_empty()) {
            tx.set_last_id(Serial::Users, last).await?;
        }
        self.backend.commit(tx).await?;
        Ok(rows.len())
    }

    async fn update_user(
        &self,
        id: i64,
        expected: &UserFields,
        f: &UserFields,
        password_hash: Option<&str>,
    ) -> StoreResult<()> {
        let unchanged: Vec<String> = USER_FIELDS.iter().map(|c| format!("{c} IS NOT DISTINCT FROM ?")).collect();
        let sql = format!(
            "UPDATE users SET {}, password_hash = coalesce(?, password_hash) WHERE id = ? AND {}",
            assignments(&USER_FIELDS),
            unchanged.join(" AND ")
        );
        let mut args: Vec<Value<'_>> = user_values(f).into();
        args.extend([password_hash.into(), id.into()]);
        args.extend(user_values(expected));
        let mut c = self.backend.writer().await?;
        let done =
            c.run(&sql, &args).await.map_err(|e| constraints::map(e, &[(&USERNAME, Conflict::UsernameTaken)]))?;
        if done > 0 {
            drop(c);
            return self.backend.logged().await;
        }
        let exists = c.row("SELECT 1 AS one FROM users WHERE id = ?", &[id.into()]).await?;
        Err(if exists.is_some() { StoreError::Conflict(Conflict::StateChanged) } else { StoreError::NotFound })
    }

    async fn delete_user(&self, id: i64) -> StoreResult<()> {
        let done = self.backend.writer().await?.run("DELETE FROM users WHERE id = ?", &[id.into()]).await?;
        found(done)?;
        self.backend.logged().await
    }

    async fn set_user_cti_profile(&self, user_id: i64, profile: Option<i64>, expect_none: bool) -> StoreResult<()> {
        let sql = if expect_none {
            "UPDATE users SET cti_profile_id = ? WHERE id = ? AND cti_profile_id IS NULL"
        } else {
            "UPDATE users SET cti_profile_id = ? WHERE id = ?"
        };
        let done = self
            .backend
            .writer()
            .await?
            .run(sql, &[profile.into(), user_id.into()])
            .await
            .map_err(|e| constraints::map(e, &[(&USER_PROFILE, Conflict::ProfileMissing)]))?;
        if done == 0 {
            return Err(StoreError::Conflict(Conflict::StateChanged));
        }
        self.backend.logged().await
    }
}
