//! Webhooks (SPEC §6): HTTP receivers of the changes the event log records, their validation,
//! and the retry policy of their deliveries.

use super::validation::ValidationError;

/// Longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// Longest secret accepted.
pub const MAX_SECRET_LEN: usize = 256;
/// Most webhooks a server holds.
pub const MAX_WEBHOOKS: i64 = 100;
/// Attempts kept per webhook (the newest).
pub const DELIVERIES_KEPT: i64 = 100;
/// Most bytes of a receiver's answer (or of an error) kept with an attempt.
pub const RESPONSE_KEPT: usize = 1024;

/// A type of change a webhook may select.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WebhookEvent {
    /// A user's status changed (`presence.status`).
    Status,
    /// A user went on or off the phone (`presence.phone`).
    Phone,
    /// A session logged in to or out of a station (`presence.station`).
    Station,
    /// A presence session opened or ended (`presence.session`).
    Session,
    /// A user was created, edited, deleted, or their CTI profile changed (`config.user`).
    User,
    /// A CTI profile was created, edited or deleted (`config.cti_profile`).
    CtiProfile,
}

impl WebhookEvent {
    pub const ALL: [Self; 6] = [Self::Status, Self::Phone, Self::Station, Self::Session, Self::User, Self::CtiProfile];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Status => "status",
            Self::Phone => "phone",
            Self::Station => "station",
            Self::Session => "session",
            Self::User => "user",
            Self::CtiProfile => "cti_profile",
        }
    }

    /// The `type` member of the payloads of this event.
    pub fn payload_type(self) -> &'static str {
        match self {
            Self::Status => "presence.status",
            Self::Phone => "presence.phone",
            Self::Station => "presence.station",
            Self::Session => "presence.session",
            Self::User => "config.user",
            Self::CtiProfile => "config.cti_profile",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|event| event.as_str() == text)
    }

    /// `status,phone`, as stored.
    pub fn join(events: &[Self]) -> String {
        events.iter().map(|e| e.as_str()).collect::<Vec<_>>().join(",")
    }

    /// Reads what [`WebhookEvent::join`] wrote; unknown names are dropped.
    pub fn split(text: &str) -> Vec<Self> {
        text.split(',').filter_map(Self::parse).collect()
    }
}

/// Every writable member of a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookFields {
    pub url: String,
    pub events: Vec<WebhookEvent>,
    pub secret: String,
    pub enabled: bool,
}

/// Where a webhook's delivery stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryState {
    /// The last event handled (delivered, or not selected).
    pub delivered_seq: i64,
    /// Why ctid disabled the webhook, until it is enabled again.
    pub disabled_reason: Option<String>,
    /// Since when (Unix ms) the next event has failed; `None` when not failing.
    pub failing_since: Option<i64>,
    /// Failed attempts of the next event.
    pub attempts: i64,
    /// When (Unix ms) the next event is tried again.
    pub next_attempt_at: Option<i64>,
}

/// A stored webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: i64,
    pub fields: WebhookFields,
    pub state: DeliveryState,
}

impl Webhook {
    pub fn selects(&self, event: WebhookEvent) -> bool {
        self.fields.events.contains(&event)
    }
}

/// One attempt to deliver an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub event_id: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// The receiver's HTTP status, if it answered.
    pub status_code: Option<u16>,
    /// Why the attempt failed: the transport error, or the start of a non-2xx answer.
    pub error: Option<String>,
}

/// What follows an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Delivered: the webhook moves past the event.
    Delivered,
    /// Failed: tried again at this time (Unix ms).
    Retry { at: i64 },
    /// Failed for too long: the webhook is disabled, saying why.
    Disable { reason: String },
}

/// The members a client may send; on creation `url` and `secret` are required.
#[derive(Debug, Clone, Default, serde::Deserialize, utoipa::ToSchema)]
#[schema(as = WebhookInput)]
#[serde(deny_unknown_fields)]
pub struct WebhookInput {
    /// `http` or `https` URL the events are posted to.
    pub url: Option<String>,
    /// Among `status`, `phone`, `station`, `session`, `user`, `cti_profile`; default all.
    pub events: Option<Vec<String>>,
    /// Signing key (write-only, never shown).
    pub secret: Option<String>,
    /// Default true; setting it true again clears a failure.
    pub enabled: Option<bool>,
}

fn valid_url(url: &str) -> Result<String, ValidationError> {
    let url = url.trim();
    let parsed = url::Url::parse(url).map_err(|_| ValidationError::invalid("url"))?;
    let web = matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some_and(|h| !h.is_empty());
    if url.len() > MAX_URL_LEN || !web {
        return Err(ValidationError::invalid("url"));
    }
    Ok(url.to_string())
}

fn valid_events(names: &[String]) -> Result<Vec<WebhookEvent>, ValidationError> {
    let mut events = Vec::new();
    for name in names {
        let event = WebhookEvent::parse(name).ok_or_else(|| ValidationError::invalid("events"))?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    if events.is_empty() {
        return Err(ValidationError::invalid("events"));
    }
    // Stored in one order whatever the order sent.
    Ok(WebhookEvent::ALL.into_iter().filter(|e| events.contains(e)).collect())
}

fn valid_secret(secret: &str) -> Result<String, ValidationError> {
    if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
        return Err(ValidationError::invalid("secret"));
    }
    Ok(secret.to_string())
}

/// A new webhook's members.
pub fn validate_new(input: &WebhookInput) -> Result<WebhookFields, ValidationError> {
    let missing: Vec<String> = [("url", input.url.is_none()), ("secret", input.secret.is_none())]
        .into_iter()
        .filter(|(_, absent)| *absent)
        .map(|(name, _)| name.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(ValidationError::Missing(missing));
    }
    Ok(WebhookFields {
        url: valid_url(input.url.as_deref().unwrap_or_default())?,
        events: match &input.events {
            Some(names) => valid_events(names)?,
            None => WebhookEvent::ALL.to_vec(),
        },
        secret: valid_secret(input.secret.as_deref().unwrap_or_default())?,
        enabled: input.enabled.unwrap_or(true),
    })
}

/// `current` with the members `input` sends.
pub fn apply_changes(current: &WebhookFields, input: &WebhookInput) -> Result<WebhookFields, ValidationError> {
    Ok(WebhookFields {
        url: input.url.as_deref().map(valid_url).transpose()?.unwrap_or_else(|| current.url.clone()),
        events: input.events.as_deref().map(valid_events).transpose()?.unwrap_or_else(|| current.events.clone()),
        secret: input.secret.as_deref().map(valid_secret).transpose()?.unwrap_or_else(|| current.secret.clone()),
        enabled: input.enabled.unwrap_or(current.enabled),
    })
}

/// How failed deliveries are tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay before the first retry (ms); each next one doubles it.
    pub first_ms: i64,
    /// The longest delay between two attempts (ms).
    pub max_ms: i64,
    /// How long an event may fail before the webhook is disabled (ms).
    pub give_up_ms: i64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self { first_ms: 5_000, max_ms: 3_600_000, give_up_ms: 86_400_000 }
    }
}

impl RetryPolicy {
    /// What follows the `attempts`-th failed attempt (from 1) at `now` of an event failing
    /// since `since`; `error` says why the last one failed.
    pub fn after_failure(&self, attempts: i64, since: i64, now: i64, error: &str) -> Outcome {
        if now - since >= self.give_up_ms {
            let hours = self.give_up_ms as f64 / 3_600_000.0;
            return Outcome::Disable {
                reason: format!(
                    "deliveries failed for {hours} h since {}: {error}",
                    super::clock::format_rfc3339_ms(since)
                ),
            };
        }
        let doublings = u32::try_from((attempts - 1).clamp(0, 40)).unwrap_or(40);
        let delay = self.first_ms.saturating_mul(1_i64 << doublings.min(40)).min(self.max_ms);
        Outcome::Retry { at: now + delay }
    }
}

/// `text` cut to at most `RESPONSE_KEPT` bytes, on a character boundary.
pub fn truncated(text: &str) -> String {
    let mut end = text.len().min(RESPONSE_KEPT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(url: &str, events: &[&str]) -> WebhookInput {
        WebhookInput {
            url: Some(url.into()),
            events: Some(events.iter().map(|e| e.to_string()).collect()),
            secret: Some("k".into()),
            enabled: None,
        }
    }

    #[test]
    fn only_web_urls_are_accepted() {
        assert!(validate_new(&input("https://example.org/hook", &["status"])).is_ok());
        assert!(validate_new(&input("http://127.0.0.1:9/x", &["status"])).is_ok());
        for url in ["ftp://example.org/", "example.org", "file:///etc/passwd", "http://", ""] {
            assert_eq!(validate_new(&input(url, &["status"])), Err(ValidationError::invalid("url")), "{url}");
        }
        let long = format!("https://example.org/{}", "a".repeat(MAX_URL_LEN));
        assert_eq!(validate_new(&input(&long, &["status"])), Err(ValidationError::invalid("url")));
    }

    #[test]
    fn events_are_known_types_in_one_order() {
        let fields = validate_new(&input("http://h/", &["user", "status", "user"])).expect("valid");
        assert_eq!(fields.events, [WebhookEvent::Status, WebhookEvent::User]);
        assert_eq!(validate_new(&input("http://h/", &["calls"])), Err(ValidationError::invalid("events")));
        assert_eq!(validate_new(&input("http://h/", &[])), Err(ValidationError::invalid("events")));
        let all = validate_new(&WebhookInput { events: None, ..input("http://h/", &[]) }).expect("valid");
        assert_eq!(all.events, WebhookEvent::ALL);
        assert_eq!(WebhookEvent::split(&WebhookEvent::join(&all.events)), all.events);
    }

    #[test]
    fn url_and_secret_are_required() {
        assert_eq!(
            validate_new(&WebhookInput::default()),
            Err(ValidationError::Missing(vec!["url".into(), "secret".into()]))
        );
    }

    #[test]
    fn retries_double_up_to_the_longest_delay_then_give_up() {
        let policy = RetryPolicy::default();
        let delay = |attempts| match policy.after_failure(attempts, 0, 1000, "e") {
            Outcome::Retry { at } => at - 1000,
            other => panic!("{other:?}"),
        };
        assert_eq!([delay(1), delay(2), delay(3)], [5_000, 10_000, 20_000]);
        assert_eq!(delay(20), 3_600_000);
        assert_eq!(delay(1000), 3_600_000);
        assert!(matches!(policy.after_failure(9, 0, 86_400_000, "HTTP 500"), Outcome::Disable { .. }));
    }

    #[test]
    fn truncation_keeps_whole_characters() {
        let text = "é".repeat(RESPONSE_KEPT);
        let cut = truncated(&text);
        assert!(cut.len() <= RESPONSE_KEPT && cut.chars().all(|c| c == 'é'));
    }
}
