//! What makes several writers behave as SQLite's single one: advisory locks, and new ids
//! handed out as SQLite's AUTOINCREMENT does.
//!
//! AUTOINCREMENT gives one more than the largest id ever used, and a rolled-back insert uses
//! none. A sequence alone would lose the ids of failed inserts (a taken username, an import
//! that fails at row 3), and the next user would not get the id SQLite gives. So the inserting
//! transaction takes the table's lock, reads the last id from the sequence (`BIGSERIAL`'s,
//! kept as the high-water mark), inserts with explicit ids and moves the sequence just before
//! it commits; see [`last_id`] and [`set_last_id`].

use sqlx::{PgConnection, Row};

use crate::store::StoreResult;
use crate::store::sql::{Lock, Serial};

/// First key of ctid's advisory locks ("ctid"); the second names the lock.
const LOCK_SPACE: i32 = 0x6374_6964;

fn lock_key(lock: Lock) -> i32 {
    match lock {
        Lock::Calls => 1,
        Lock::Catalog => 2,
    }
}

fn serial_key(serial: Serial) -> i32 {
    match serial {
        Serial::Users => 3,
        Serial::CtiProfiles => 4,
        Serial::Lines => 5,
    }
}

/// Takes one of ctid's advisory locks until the end of the transaction.
async fn advisory_lock(tx: &mut PgConnection, key: i32) -> StoreResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock($1, $2)").bind(LOCK_SPACE).bind(key).execute(tx).await?;
    Ok(())
}

pub(super) async fn lock(tx: &mut PgConnection, lock: Lock) -> StoreResult<()> {
    advisory_lock(tx, lock_key(lock)).await
}

/// The last id of `serial` handed out (0 if none), with the right to hand out the next ones
/// until the transaction ends. Takes the lock first thing: before any write (and so before the
/// event log's lock), so that it can be part of no deadlock.
pub(super) async fn last_id(tx: &mut PgConnection, serial: Serial) -> StoreResult<i64> {
    advisory_lock(tx, serial_key(serial)).await?;
    let table = serial.table();
    let last: i64 = sqlx::query(&format!(
        "SELECT greatest((SELECT CASE WHEN is_called THEN last_value ELSE last_value - 1 END FROM {table}_id_seq), \
         (SELECT coalesce(max(id), 0) FROM {table}))"
    ))
    .fetch_one(&mut *tx)
    .await?
    .try_get(0)?;
    Ok(last)
}

/// Records `last` as the last id of `serial` handed out: just before the commit, since the
/// sequence does not roll back.
pub(super) async fn set_last_id(tx: &mut PgConnection, serial: Serial, last: i64) -> StoreResult<()> {
    sqlx::query("SELECT setval(pg_get_serial_sequence($1, 'id'), $2)")
        .bind(serial.table())
        .bind(last)
        .execute(tx)
        .await?;
    Ok(())
}
