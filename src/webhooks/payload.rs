//! What a webhook receives of an event: its type (see [`WebhookEvent::payload_type`]) and its
//! `data`, read from the store when the event is delivered.

use serde_json::{Map, Value, json};

use crate::domain::clock::{format_rfc3339_ms, now_ms};
use crate::domain::history::{HistoryKind, HistoryRecord};
use crate::domain::webhook::WebhookEvent;
use crate::store::events::Event;
use crate::store::{Store, StoreError, StoreResult};

/// The webhook event type of a logged event, if webhooks deliver it.
pub fn classify(event: &Event) -> Option<WebhookEvent> {
    match event {
        Event::UserChanged(_) | Event::Rights(_) | Event::ProfileRemoved(_) | Event::UserDeleted(_) => {
            Some(WebhookEvent::User)
        }
        Event::Profiles => Some(WebhookEvent::CtiProfile),
        other => other.history().map(|entry| match entry.kind {
            HistoryKind::Status => WebhookEvent::Status,
            HistoryKind::Phone => WebhookEvent::Phone,
            HistoryKind::Station => WebhookEvent::Station,
            HistoryKind::Session => WebhookEvent::Session,
        }),
    }
}

/// The body posted for event `seq` of type `kind`; `None` when there is nothing left to say
/// (its history record was purged).
pub async fn body(store: &dyn Store, seq: i64, event: &Event, kind: WebhookEvent) -> StoreResult<Option<Vec<u8>>> {
    let (at, data) = match event {
        Event::UserChanged(id) | Event::Rights(id) | Event::ProfileRemoved(id) => (now_ms(), user(store, *id).await?),
        Event::UserDeleted(id) => (now_ms(), deleted(*id)),
        Event::Profiles => (now_ms(), json!({})),
        _ => match store.history_record(seq).await? {
            Some(record) => (record.at, history(&record)),
            None => return Ok(None),
        },
    };
    let payload = json!({"type": kind.payload_type(), "timestamp": format_rfc3339_ms(at), "data": data});
    Ok(Some(serde_json::to_vec(&payload).unwrap_or_default()))
}

fn deleted(id: i64) -> Value {
    json!({"id": id, "deleted": true})
}

/// The user as `GET /1.1/users/{id}` shows it, without `links`; a user deleted since is
/// `{"id", "deleted": true}`.
async fn user(store: &dyn Store, id: i64) -> StoreResult<Value> {
    let user = match store.get_user(id).await {
        Ok(user) => user,
        Err(StoreError::NotFound) => return Ok(deleted(id)),
        Err(err) => return Err(err),
    };
    let mut members = Map::new();
    members.insert("id".into(), id.into());
    if let Ok(Value::Object(fields)) = serde_json::to_value(&user.fields) {
        members.extend(fields);
    }
    members.insert("password".into(), Value::Null);
    Ok(Value::Object(members))
}

/// A history record as the history API shows it.
pub fn history(record: &HistoryRecord) -> Value {
    let v = &record.values;
    json!({
        "id": record.id,
        "at": format_rfc3339_ms(record.at),
        "user_id": record.user_id,
        "username": record.username,
        "kind": record.kind.as_str(),
        "status_id": v.status_id,
        "notes": v.notes,
        "forward_number": v.forward_number,
        "until": v.until.map(|until| format_rfc3339_ms(until.saturating_mul(1000))),
        "on_phone": v.on_phone,
        "station": v.station,
        "session_id": v.session_id,
        "actor": {"type": record.actor.as_str(), "name": record.actor_name},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::history::{ActorType, HistoryValues};
    use crate::domain::presence::UserStatus;
    use crate::domain::session::Actor;

    #[test]
    fn events_map_to_webhook_types() {
        let status = UserStatus::initial(7, 1_700_000_000);
        let changed = Event::Status { status: status.clone(), cause: None, actor: Actor::Admin };
        assert_eq!(classify(&changed), Some(WebhookEvent::Status));
        let phone = Event::Status { status, cause: None, actor: Actor::Pbx };
        assert_eq!(classify(&phone), Some(WebhookEvent::Phone));
        assert_eq!(classify(&Event::UserDeleted(3)), Some(WebhookEvent::User));
        assert_eq!(classify(&Event::Rights(3)), Some(WebhookEvent::User));
        assert_eq!(classify(&Event::Profiles), Some(WebhookEvent::CtiProfile));
        assert_eq!(classify(&Event::Catalog), None);
        assert_eq!(classify(&Event::Schedules(3)), None);
    }

    #[test]
    fn a_history_record_shows_every_member() {
        let record = HistoryRecord {
            id: 12,
            at: 1_700_000_000_123,
            user_id: 7,
            username: Some("ann".into()),
            kind: HistoryKind::Status,
            values: HistoryValues {
                status_id: Some("At Lunch".into()),
                until: Some(1_700_003_600),
                ..HistoryValues::default()
            },
            actor: ActorType::User,
            actor_name: Some("bob".into()),
        };
        let shown = history(&record);
        assert_eq!(shown["at"], "2023-11-14T22:13:20.123Z");
        assert_eq!(shown["until"], "2023-11-14T23:13:20.000Z");
        assert_eq!(shown["actor"], json!({"type": "user", "name": "bob"}));
        assert_eq!(shown["on_phone"], Value::Null);
        assert_eq!(shown.as_object().map(Map::len), Some(13));
    }
}
