//! The unique keys and foreign keys whose violations mean something to a client, named once
//! for both databases, and the turning of a violation into its [`Conflict`].
//!
//! PostgreSQL reports the name of the constraint a statement broke, and the migrations name
//! each constraint. SQLite reports none: for a unique key it says `UNIQUE constraint failed:`
//! and the key's `table.column`s, which is how a constraint is recognised there; for a foreign
//! key it says only that one failed, so on SQLite a foreign-key violation is taken for the
//! one foreign key the failing statement's call site lists (each lists at most one).

use crate::store::{Conflict, StoreError};

/// A constraint of both schemas.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Constraint {
    /// Its name in the migrations.
    pub name: &'static str,
    pub key: Key,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// A unique key (or primary key) over these columns, as SQLite lists them.
    Unique(&'static str),
    ForeignKey,
}

pub(crate) const USERNAME: Constraint =
    Constraint { name: "users_username_key", key: Key::Unique("users.username_key") };
pub(crate) const USER_PROFILE: Constraint = Constraint { name: "users_cti_profile_fk", key: Key::ForeignKey };
pub(crate) const PROFILE_NAME: Constraint =
    Constraint { name: "cti_profiles_name_key", key: Key::Unique("cti_profiles.name_key") };
pub(crate) const STATUS_KEY: Constraint =
    Constraint { name: "status_messages_pkey", key: Key::Unique("status_messages.status_key") };
pub(crate) const WEBSERVICE_USER: Constraint =
    Constraint { name: "webservice_users_pkey", key: Key::Unique("webservice_users.username") };
pub(crate) const LINE_NAME: Constraint = Constraint { name: "lines_name_unique", key: Key::Unique("lines.name") };
pub(crate) const LINE_USER: Constraint = Constraint { name: "lines_user_fk", key: Key::ForeignKey };

/// Which of `candidates` `err` broke, if it is a unique or foreign-key violation of one.
pub(crate) fn broken<'c>(err: &sqlx::Error, candidates: &[&'c Constraint]) -> Option<&'c Constraint> {
    let sqlx::Error::Database(db) = err else {
        return None;
    };
    let (unique, foreign) = (db.is_unique_violation(), db.is_foreign_key_violation());
    if !unique && !foreign {
        return None;
    }
    let columns = db.message().strip_prefix("UNIQUE constraint failed: ");
    candidates.iter().copied().find(|c| match (db.constraint(), &c.key) {
        (Some(name), _) => name == c.name,
        (None, Key::Unique(key)) => unique && columns == Some(key),
        (None, Key::ForeignKey) => foreign,
    })
}

/// Turns the violation of a constraint of `rules` into its conflict, any other error into a
/// backend error.
pub(crate) fn map(err: sqlx::Error, rules: &[(&Constraint, Conflict)]) -> StoreError {
    let candidates: Vec<&Constraint> = rules.iter().map(|(c, _)| *c).collect();
    match broken(&err, &candidates).and_then(|hit| rules.iter().find(|(c, _)| *c == hit)) {
        Some((_, conflict)) => StoreError::Conflict(*conflict),
        None => StoreError::Backend(err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [&Constraint; 7] =
        [&USERNAME, &USER_PROFILE, &PROFILE_NAME, &STATUS_KEY, &WEBSERVICE_USER, &LINE_NAME, &LINE_USER];

    #[test]
    fn every_constraint_is_named_so_in_the_postgresql_schema() {
        let schema = include_str!("../../../migrations/postgres/0001_init.sql");
        for constraint in ALL {
            assert!(schema.contains(&format!("CONSTRAINT {} ", constraint.name)), "{}", constraint.name);
        }
    }

    #[test]
    fn every_unique_key_is_one_of_the_sqlite_schema() {
        let schema = [
            include_str!("../../../migrations/sqlite/0001_init.sql"),
            include_str!("../../../migrations/sqlite/0002_telephony.sql"),
        ]
        .concat();
        for constraint in ALL {
            if let Key::Unique(key) = constraint.key {
                let (table, column) = key.split_once('.').unwrap_or_default();
                let table_sql = schema.split(&format!("CREATE TABLE {table} (")).nth(1).unwrap_or_default();
                let table_sql = table_sql.split(");").next().unwrap_or_default();
                assert!(
                    table_sql.lines().any(|l| l.trim_start().starts_with(&format!("{column} "))
                        && (l.contains("UNIQUE") || l.contains("PRIMARY KEY"))),
                    "{key}"
                );
            }
        }
    }
}
