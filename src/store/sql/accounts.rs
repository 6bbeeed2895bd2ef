//! Web-service users and single-use login tokens, written once for both dialects.

use async_trait::async_trait;

use super::constraints::{self, WEBSERVICE_USER};
use super::schema::{AUTH_TOKEN_COLUMNS, WEBSERVICE_USER_COLUMNS, auth_token_from_row, webservice_user_from_row};
use super::{Backend, Conn, SqlStore, found};
use crate::domain::auth_token::AuthToken;
use crate::domain::webservice_user::WebserviceUser;
use crate::store::{AuthTokens, Conflict, StoreError, StoreResult, WebserviceUsers};

#[async_trait]
impl<B: Backend> WebserviceUsers for SqlStore<B> {
    async fn list_webservice_users(&self) -> StoreResult<Vec<WebserviceUser>> {
        let sql = format!("SELECT {WEBSERVICE_USER_COLUMNS} FROM webservice_users ORDER BY username COLLATE BINARY");
        let rows = self.backend.reader().await?.rows(&sql, &[]).await?;
        rows.iter().map(webservice_user_from_row).collect()
    }

    async fn get_webservice_user(&self, username: &str) -> StoreResult<WebserviceUser> {
        let sql = format!("SELECT {WEBSERVICE_USER_COLUMNS} FROM webservice_users WHERE username = ?");
        let row = self.backend.reader().await?.row(&sql, &[username.into()]).await?;
        webservice_user_from_row(&row.ok_or(StoreError::NotFound)?)
    }

    async fn add_webservice_user(&self, user: &WebserviceUser) -> StoreResult<()> {
        let sql = format!("INSERT INTO webservice_users ({WEBSERVICE_USER_COLUMNS}) VALUES (?, ?, ?)");
        let args = [(&user.username).into(), (&user.password_hash).into(), (&user.digest_ha1).into()];
        self.backend
            .writer()
            .await?
            .run(&sql, &args)
            .await
            .map_err(|e| constraints::map(e, &[(&WEBSERVICE_USER, Conflict::WebserviceUserTaken)]))?;
        Ok(())
    }

    async fn remove_webservice_user(&self, username: &str) -> StoreResult<()> {
        let sql = "DELETE FROM webservice_users WHERE username = ?";
        found(self.backend.writer().await?.run(sql, &[username.into()]).await?)
    }
}

#[async_trait]
impl<B: Backend> AuthTokens for SqlStore<B> {
    async fn add_auth_token(&self, token: &AuthToken, now_ms: i64) -> StoreResult<()> {
        let mut tx = self.backend.begin().await?;
        tx.run("DELETE FROM auth_tokens WHERE expires_ms < ?", &[now_ms.into()]).await?;
        tx.run(
            &format!("INSERT INTO auth_tokens ({AUTH_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?)"),
            &[
                (&token.token_hash).into(),
                (&token.seed_hash).into(),
                token.user_id.into(),
                (&token.source_session).into(),
                token.expires_ms.into(),
            ],
        )
        .await?;
        self.backend.commit(tx).await
    }

    async fn take_auth_token(&self, token_hash: &str) -> StoreResult<Option<AuthToken>> {
        let sql = format!("DELETE FROM auth_tokens WHERE token_hash = ? RETURNING {AUTH_TOKEN_COLUMNS}");
        let row = self.backend.writer().await?.row(&sql, &[token_hash.into()]).await?;
        row.map(|r| auth_token_from_row(&r)).transpose()
    }
}
