//! The wall clock, in the units the domain counts in.

/// The current time in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Parses an RFC 3339 date-time into Unix milliseconds (years 1970 to 9999).
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    if text.len() > 64 {
        return None;
    }
    let at = OffsetDateTime::parse(text.trim(), &Rfc3339).ok()?;
    let ms = i64::try_from(at.unix_timestamp_nanos() / 1_000_000).ok()?;
    (0..=253_402_300_799_999).contains(&ms).then_some(ms)
}

/// Unix milliseconds as RFC 3339 UTC with milliseconds (`2026-12-07T14:00:00.250Z`).
pub fn format_rfc3339_ms(ms: i64) -> String {
    use time::OffsetDateTime;
    use time::macros::format_description;
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_trip_through_rfc3339() {
        assert_eq!(format_rfc3339_ms(1_796_652_000_250), "2026-12-07T14:00:00.250Z");
        assert_eq!(parse_rfc3339_ms("2026-12-07T14:00:00.250Z"), Some(1_796_652_000_250));
        assert_eq!(parse_rfc3339_ms("2026-12-07T15:00:00+01:00"), Some(1_796_652_000_000));
        assert_eq!(parse_rfc3339_ms("1969-12-31T23:59:59Z"), None);
        assert_eq!(parse_rfc3339_ms("tomorrow"), None);
    }
}
