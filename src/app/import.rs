//! Bulk import of users from CSV: validated row by row, then written in one transaction.

use std::collections::HashSet;
use std::io::Read;

use crate::auth::password;
use crate::domain::schema;
use crate::domain::user::{self, UserChanges};
use crate::store::{Conflict, ImportedUser, Store, StoreError};

/// The column naming a user's CTI profile; the others are the user's writable members.
pub const PROFILE_COLUMN: &str = "cti_profile_id";

/// The columns a file may have: the profile's, then every member of a user's request body.
fn known_columns() -> Vec<String> {
    let members = schema::members::<UserChanges>();
    std::iter::once(PROFILE_COLUMN.to_string()).chain(members.iter().map(|m| m.name.clone())).collect()
}

/// Errors reported at most, so a broken file does not flood the terminal.
const MAX_REPORTED: usize = 20;

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot read the file: {0}")]
    Read(String),
    #[error("unknown column {0:?}; known columns: {known}", known = .1.join(", "))]
    UnknownColumn(String, Vec<String>),
    #[error("the file has no firstname column")]
    NoFirstname,
    #[error("nothing was imported:\n{}", .0.join("\n"))]
    Rows(Vec<String>),
    #[error("nothing was imported: {0}")]
    Store(#[from] StoreError),
}

/// Imports every row of a CSV file with a header line; all or nothing. Returns the count.
pub async fn import_csv(store: &dyn Store, input: impl Read) -> Result<usize, ImportError> {
    let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(input);
    let headers: Vec<String> =
        reader.headers().map_err(|e| ImportError::Read(e.to_string()))?.iter().map(str::to_string).collect();
    let known = known_columns();
    if let Some(unknown) = headers.iter().find(|h| !known.contains(h)) {
        return Err(ImportError::UnknownColumn(unknown.clone(), known));
    }
    if !headers.iter().any(|h| h == "firstname") {
        return Err(ImportError::NoFirstname);
    }
    let mut rows = Vec::new();
    let mut passwords = Vec::new();
    let mut errors = Vec::new();
    let mut seen = HashSet::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record.map_err(|e| ImportError::Read(e.to_string()))?;
        let cell =
            |name: &str| headers.iter().position(|h| h == name).and_then(|i| record.get(i)).filter(|v| !v.is_empty());
        // The user's members as a request body would send them; an empty cell is left out.
        let members: serde_json::Map<String, serde_json::Value> = headers
            .iter()
            .filter(|h| *h != PROFILE_COLUMN)
            .filter_map(|h| Some((h.clone(), cell(h)?.into())))
            .collect();
        let changes: UserChanges =
            serde_json::from_value(members.into()).map_err(|e| ImportError::Read(e.to_string()))?;
        let profile = match cell(PROFILE_COLUMN).map(str::parse::<i64>) {
            None => None,
            Some(Ok(id)) => Some(id),
            Some(Err(_)) => {
                errors.push(format!("line {line}: cti_profile_id must be an integer"));
                continue;
            }
        };
        match user::validate_new(changes) {
            Ok(valid) => {
                if let Some(key) = valid.fields.username_key()
                    && !seen.insert(key)
                {
                    errors.push(format!(
                        "line {line}: username {} appears twice",
                        valid.fields.username.unwrap_or_default()
                    ));
                    continue;
                }
                passwords.push(valid.password);
                rows.push(ImportedUser { fields: valid.fields, password_hash: None, cti_profile_id: profile });
            }
            Err(err) => errors.push(format!("line {line}: {err}")),
        }
        if errors.len() >= MAX_REPORTED {
            break;
        }
    }
    if !errors.is_empty() {
        return Err(ImportError::Rows(errors));
    }
    hash_passwords(&mut rows, passwords).await;
    store.import_users(&rows, super::now()).await.map_err(|e| match e {
        StoreError::Conflict(Conflict::UsernameTakenAt(i)) => ImportError::Rows(vec![format!(
            "line {}: username {} already exists",
            i + 2,
            rows[i].fields.username.as_deref().unwrap_or_default()
        )]),
        StoreError::Conflict(Conflict::ProfileMissing) => {
            ImportError::Rows(vec!["a cti_profile_id does not exist".to_string()])
        }
        other => other.into(),
    })
}

/// Hashes the passwords on every core.
async fn hash_passwords(rows: &mut [ImportedUser], passwords: Vec<Option<String>>) {
    let workers = std::thread::available_parallelism().map_or(2, usize::from);
    let mut pending: Vec<(usize, String)> =
        passwords.into_iter().enumerate().filter_map(|(i, p)| p.map(|p| (i, p))).collect();
    while !pending.is_empty() {
        let batch: Vec<(usize, String)> = pending.drain(..pending.len().min(workers)).collect();
        let tasks: Vec<_> = batch
            .into_iter()
            .map(|(i, plain)| tokio::task::spawn_blocking(move || (i, password::hash(&plain))))
            .collect();
        for task in tasks {
            if let Ok((i, hash)) = task.await {
                rows[i].password_hash = Some(hash);
            }
        }
    }
}
