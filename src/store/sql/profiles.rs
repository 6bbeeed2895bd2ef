//! CTI profiles, written once for both dialects.

use async_trait::async_trait;

use super::constraints::{self, PROFILE_NAME, USER_PROFILE};
use super::schema::PROFILE_COLUMNS;
use super::{Backend, Columns, Conn, Serial, SqlStore, found};
use crate::domain::cti_profile::{AllowedStatuses, ChangeScope, CtiProfile, CtiProfileFields, ViewScope};
use crate::store::{Conflict, Profiles, StoreError, StoreResult};

/// Reads a profile row and the statuses it allows (on the same connection).
async fn profile_from_row<C: Conn>(c: &mut C, row: &C::Row) -> StoreResult<CtiProfile> {
    let id = row.int("id")?;
    let allowed_statuses = if row.flag("all_statuses")? {
        AllowedStatuses::AllSelectable
    } else {
        let statuses = c
            .rows(
                "SELECT s.status_id FROM cti_profile_statuses p JOIN status_messages s ON s.status_key = p.status_key \
                 WHERE p.cti_profile_id = ? ORDER BY s.position",
                &[id.into()],
            )
            .await?;
        AllowedStatuses::Only(statuses.iter().map(|r| r.text("status_id")).collect::<StoreResult<_>>()?)
    };
    let (view, change) = (row.text("view_statuses")?, row.text("change_statuses")?);
    Ok(CtiProfile {
        id,
        fields: CtiProfileFields {
            name: row.text("name")?,
            allowed_statuses,
            view_statuses: ViewScope::parse(&view).ok_or_else(|| StoreError::Corrupt(view.clone()))?,
            change_statuses: ChangeScope::parse(&change).ok_or_else(|| StoreError::Corrupt(change.clone()))?,
        },
    })
}

async fn write_allowed_statuses(c: &mut impl Conn, id: i64, allowed: &AllowedStatuses) -> StoreResult<()> {
    if let AllowedStatuses::Only(ids) = allowed {
        for status_id in ids {
            c.run(
                "INSERT INTO cti_profile_statuses (cti_profile_id, status_key) VALUES (?, ?) ON CONFLICT DO NOTHING",
                &[id.into(), status_id.to_lowercase().into()],
            )
            .await?;
        }
    }
    Ok(())
}

/// A profile's columns but its id, in the order of `name, name_key, view_statuses,
/// change_statuses, all_statuses`.
fn profile_values(fields: &CtiProfileFields) -> [super::Value<'_>; 5] {
    [
        (&fields.name).into(),
        fields.name.to_lowercase().into(),
        fields.view_statuses.as_str().into(),
        fields.change_statuses.as_str().into(),
        matches!(fields.allowed_statuses, AllowedStatuses::AllSelectable).into(),
    ]
}

#[async_trait]
impl<B: Backend> Profiles for SqlStore<B> {
    async fn list_cti_profiles(&self) -> StoreResult<Vec<CtiProfile>> {
        let mut c = self.backend.reader().await?;
        let rows = c.rows(&format!("SELECT {PROFILE_COLUMNS} FROM cti_profiles ORDER BY id"), &[]).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(profile_from_row(&mut *c, row).await?);
        }
        Ok(out)
    }

    async fn get_cti_profile(&self, id: i64) -> StoreResult<CtiProfile> {
        let mut c = self.backend.reader().await?;
        let row = c.row(&format!("SELECT {PROFILE_COLUMNS} FROM cti_profiles WHERE id = ?"), &[id.into()]).await?;
        profile_from_row(&mut *c, &row.ok_or(StoreError::NotFound)?).await
    }

    async fn create_cti_profile(&self, fields: &CtiProfileFields) -> StoreResult<CtiProfile> {
        let mut tx = self.backend.begin().await?;
        let next = tx.last_id(Serial::CtiProfiles).await?.map(|last| last + 1);
        let mut args = vec![next.into()];
        args.extend(profile_values(fields));
        let row = tx
            .row(
                "INSERT INTO cti_profiles (id, name, name_key, view_statuses, change_statuses, all_statuses) \
                 VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
                &args,
            )
            .await
            .map_err(|e| constraints::map(e, &[(&PROFILE_NAME, Conflict::ProfileNameTaken)]))?;
        let id = row.ok_or(StoreError::NotFound)?.int("id")?;
        write_allowed_statuses(&mut *tx, id, &fields.allowed_statuses).await?;
        if next.is_some() {
            tx.set_last_id(Serial::CtiProfiles, id).await?;
        }
        self.backend.commit(tx).await?;
        Ok(CtiProfile { id, fields: fields.clone() })
    }

    async fn update_cti_profile(&self, id: i64, fields: &CtiProfileFields) -> StoreResult<()> {
        let mut tx = self.backend.begin().await?;
        let mut args = profile_values(fields).to_vec();
        args.push(id.into());
        let done = tx
            .run(
                "UPDATE cti_profiles SET name = ?, name_key = ?, view_statuses = ?, change_statuses = ?, \
                 all_statuses = ? WHERE id = ?",
                &args,
            )
            .await
            .map_err(|e| constraints::map(e, &[(&PROFILE_NAME, Conflict::ProfileNameTaken)]))?;
        found(done)?;
        tx.run("DELETE FROM cti_profile_statuses WHERE cti_profile_id = ?", &[id.into()]).await?;
        write_allowed_statuses(&mut *tx, id, &fields.allowed_statuses).await?;
        self.backend.commit(tx).await
    }

    async fn delete_cti_profile(&self, id: i64) -> StoreResult<()> {
        let mut tx = self.backend.begin().await?;
        let in_use = tx.row("SELECT 1 AS one FROM users WHERE cti_profile_id = ? LIMIT 1", &[id.into()]).await?;
        if in_use.is_some() {
            return Err(StoreError::Conflict(Conflict::ProfileInUse));
        }
        // A user given the profile since the test above breaks the foreign key.
        let done = tx
            .run("DELETE FROM cti_profiles WHERE id = ?", &[id.into()])
            .await
            .map_err(|e| constraints::map(e, &[(&USER_PROFILE, Conflict::ProfileInUse)]))?;
        found(done)?;
        self.backend.commit(tx).await
    }
}
