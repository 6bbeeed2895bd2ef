//! One declaration of each table's columns, the values a write binds to them (in that order)
//! and the reading of a row back; and the seed of a fresh database.

use super::{Backend, Columns, Conn, Serial, Value, constraints, placeholders};
use crate::domain::auth_token::AuthToken;
use crate::domain::cti_profile;
use crate::domain::presence::{PreviousInfo, Until, UserStatus};
use crate::domain::status::{self, StatusMessage};
use crate::domain::telephony::{CallRecord, CallState, Line, LineFields};
use crate::domain::user::{User, UserFields};
use crate::domain::webservice_user::WebserviceUser;
use crate::store::{Conflict, StoreError, StoreResult};

/// A user's writable columns, in the order of [`user_values`].
pub(super) const USER_FIELDS: [&str; 13] = [
    "firstname",
    "lastname",
    "caller_id",
    "outgoing_caller_id",
    "username",
    "username_key",
    "music_on_hold",
    "mobile_phone_number",
    "userfield",
    "timezone",
    "language",
    "description",
    "preprocess_subroutine",
];

pub(super) const USER_COLUMNS: &str = "id, firstname, lastname, caller_id, outgoing_caller_id, username, \
     music_on_hold, mobile_phone_number, userfield, timezone, language, description, preprocess_subroutine, \
     cti_profile_id";

pub(super) const USER_STATUS_COLUMNS: &str = "user_id, status_id, notes, forward_number, until_at, has_date, \
     has_time, status_changed, on_phone, on_phone_changed";

/// A status's editable attributes, in the order of [`status_values`].
pub(super) const STATUS_ATTRIBUTES: [&str; 15] = [
    "message_text",
    "icon_uri",
    "group_tag",
    "can_have_date",
    "can_have_time",
    "can_have_forward_number",
    "is_do_not_disturb_status",
    "is_selectable_status",
    "is_persistent_status",
    "is_forward_status",
    "is_after_call_work_status",
    "is_acd_status",
    "is_allow_follow_up_status",
    "system_id",
    "return_status_id",
];

pub(super) const PROFILE_COLUMNS: &str = "id, name, view_statuses, change_statuses, all_statuses";

pub(super) const LINE_COLUMNS: &str = "id, name, protocol, context, number, user_id";

pub(super) const WEBSERVICE_USER_COLUMNS: &str = "username, password_hash, digest_ha1";

pub(super) const AUTH_TOKEN_COLUMNS: &str = "token_hash, seed_hash, user_id, source_session, expires_ms";

/// `a = ?, b = ?` over `columns`.
pub(super) fn assignments(columns: &[&str]) -> String {
    columns.iter().map(|c| format!("{c} = ?")).collect::<Vec<_>>().join(", ")
}

pub(super) fn user_values(f: &UserFields) -> [Value<'_>; 13] {
    [
        (&f.firstname).into(),
        (&f.lastname).into(),
        (&f.caller_id).into(),
        (&f.outgoing_caller_id).into(),
        (&f.username).into(),
        f.username_key().into(),
        (&f.music_on_hold).into(),
        (&f.mobile_phone_number).into(),
        (&f.userfield).into(),
        (&f.timezone).into(),
        (&f.language).into(),
        (&f.description).into(),
        (&f.preprocess_subroutine).into(),
    ]
}

pub(super) fn user_from_row(row: &impl Columns) -> StoreResult<User> {
    Ok(User {
        id: row.int("id")?,
        cti_profile_id: row.opt_int("cti_profile_id")?,
        fields: UserFields {
            firstname: row.text("firstname")?,
            lastname: row.text("lastname")?,
            caller_id: row.text("caller_id")?,
            outgoing_caller_id: row.opt_text("outgoing_caller_id")?,
            username: row.opt_text("username")?,
            music_on_hold: row.opt_text("music_on_hold")?,
            mobile_phone_number: row.opt_text("mobile_phone_number")?,
            userfield: row.opt_text("userfield")?,
            timezone: row.opt_text("timezone")?,
            language: row.opt_text("language")?,
            description: row.opt_text("description")?,
            preprocess_subroutine: row.opt_text("preprocess_subroutine")?,
        },
    })
}

/// In the order of [`USER_STATUS_COLUMNS`].
pub(super) fn user_status_values(s: &UserStatus) -> [Value<'_>; 10] {
    [
        s.user_id.into(),
        (&s.status_id).into(),
        (&s.notes).into(),
        (&s.forward_number).into(),
        s.until.map(|u| u.at).into(),
        s.until.is_some_and(|u| u.has_date).into(),
        s.until.is_some_and(|u| u.has_time).into(),
        s.status_changed.into(),
        s.on_phone.into(),
        s.on_phone_changed.into(),
    ]
}

pub(super) fn user_status_from_row(row: &impl Columns) -> StoreResult<UserStatus> {
    Ok(UserStatus {
        user_id: row.int("user_id")?,
        status_id: row.text("status_id")?,
        notes: row.opt_text("notes")?,
        forward_number: row.opt_text("forward_number")?,
        until: match row.opt_int("until_at")? {
            Some(at) => Some(Until { at, has_date: row.flag("has_date")?, has_time: row.flag("has_time")? }),
            None => None,
        },
        status_changed: row.int("status_changed")?,
        on_phone: row.flag("on_phone")?,
        on_phone_changed: row.int("on_phone_changed")?,
    })
}

pub(super) fn previous_info_from_row(row: &impl Columns) -> StoreResult<PreviousInfo> {
    Ok(PreviousInfo {
        status_id: row.text("status_id")?,
        notes: row.opt_text("notes")?,
        forward_number: row.opt_text("forward_number")?,
    })
}

/// The catalog's columns as read.
pub(super) fn status_columns() -> String {
    format!("status_id, {}, built_in", STATUS_ATTRIBUTES.join(", "))
}

pub(super) fn status_values(s: &StatusMessage) -> [Value<'_>; 15] {
    [
        (&s.message_text).into(),
        (&s.icon_uri).into(),
        (&s.group_tag).into(),
        s.can_have_date.into(),
        s.can_have_time.into(),
        s.can_have_forward_number.into(),
        s.is_do_not_disturb_status.into(),
        s.is_selectable_status.into(),
        s.is_persistent_status.into(),
        s.is_forward_status.into(),
        s.is_after_call_work_status.into(),
        s.is_acd_status.into(),
        s.is_allow_follow_up_status.into(),
        (&s.system_id).into(),
        (&s.return_status_id).into(),
    ]
}

pub(super) fn status_from_row(row: &impl Columns) -> StoreResult<StatusMessage> {
    Ok(StatusMessage {
        status_id: row.text("status_id")?,
        message_text: row.text("message_text")?,
        icon_uri: row.text("icon_uri")?,
        group_tag: row.text("group_tag")?,
        can_have_date: row.flag("can_have_date")?,
        can_have_time: row.flag("can_have_time")?,
        can_have_forward_number: row.flag("can_have_forward_number")?,
        is_do_not_disturb_status: row.flag("is_do_not_disturb_status")?,
        is_selectable_status: row.flag("is_selectable_status")?,
        is_persistent_status: row.flag("is_persistent_status")?,
        is_forward_status: row.flag("is_forward_status")?,
        is_after_call_work_status: row.flag("is_after_call_work_status")?,
        is_acd_status: row.flag("is_acd_status")?,
        is_allow_follow_up_status: row.flag("is_allow_follow_up_status")?,
        system_id: row.text("system_id")?,
        built_in: row.flag("built_in")?,
        return_status_id: row.opt_text("return_status_id")?,
    })
}

/// Inserts a catalog entry at `position`.
pub(super) async fn insert_status(c: &mut impl Conn, s: &StatusMessage, position: i64) -> StoreResult<()> {
    let sql = format!(
        "INSERT INTO status_messages (status_key, position, status_id, {}, built_in) VALUES ({})",
        STATUS_ATTRIBUTES.join(", "),
        placeholders(STATUS_ATTRIBUTES.len() + 4)
    );
    let mut args = vec![s.status_id.to_lowercase().into(), position.into(), (&s.status_id).into()];
    args.extend(status_values(s));
    args.push(s.built_in.into());
    c.run(&sql, &args)
        .await
        .map_err(|e| constraints::map(e, &[(&constraints::STATUS_KEY, Conflict::StatusIdTaken)]))?;
    Ok(())
}

pub(super) fn line_values(f: &LineFields) -> [Value<'_>; 4] {
    [(&f.name).into(), (&f.protocol).into(), (&f.context).into(), (&f.number).into()]
}

pub(super) fn line_from_row(row: &impl Columns) -> StoreResult<Line> {
    Ok(Line {
        id: row.int("id")?,
        user_id: row.opt_int("user_id")?,
        fields: LineFields {
            name: row.text("name")?,
            protocol: row.text("protocol")?,
            context: row.text("context")?,
            number: row.opt_text("number")?,
        },
    })
}

pub(super) fn call_state(row: &impl Columns) -> StoreResult<CallState> {
    let state = row.text("state")?;
    CallState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("call state {state}")))
}

pub(super) fn call_record(row: &impl Columns) -> StoreResult<CallRecord> {
    Ok(CallRecord { state: call_state(row)?, at_us: row.int("at_us")? })
}

pub(super) fn webservice_user_from_row(row: &impl Columns) -> StoreResult<WebserviceUser> {
    Ok(WebserviceUser {
        username: row.text("username")?,
        password_hash: row.text("password_hash")?,
        digest_ha1: row.text("digest_ha1")?,
    })
}

pub(super) fn auth_token_from_row(row: &impl Columns) -> StoreResult<AuthToken> {
    Ok(AuthToken {
        token_hash: row.text("token_hash")?,
        seed_hash: row.text("seed_hash")?,
        user_id: row.int("user_id")?,
        source_session: row.text("source_session")?,
        expires_ms: row.int("expires_ms")?,
    })
}

/// Writes the default catalog and CTI profiles into a database that has never had them.
pub(super) async fn seed_if_fresh<B: Backend>(backend: &B) -> StoreResult<()> {
    let mut tx = backend.begin().await?;
    let seeded = tx.run("INSERT INTO meta (key, value) VALUES ('seeded', '1') ON CONFLICT DO NOTHING", &[]).await?;
    if seeded == 0 {
        return Ok(());
    }
    for (position, status) in status::defaults().iter().enumerate() {
        insert_status(&mut *tx, status, i64::try_from(position).unwrap_or(i64::MAX)).await?;
    }
    let mut last = 0;
    for (id, profile) in cti_profile::defaults() {
        tx.run(
            "INSERT INTO cti_profiles (id, name, name_key, view_statuses, change_statuses, all_statuses) \
             VALUES (?, ?, ?, ?, ?, TRUE)",
            &[
                id.into(),
                (&profile.name).into(),
                profile.name.to_lowercase().into(),
                profile.view_statuses.as_str().into(),
                profile.change_statuses.as_str().into(),
            ],
        )
        .await?;
        last = last.max(id);
    }
    // The profiles were given their ids: new ones follow them.
    tx.set_last_id(Serial::CtiProfiles, last).await?;
    backend.commit(tx).await
}
