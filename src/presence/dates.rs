//! ICWS date-times: `YYYYMMDDTHHMMSSZ` out; that form and extended ISO 8601 in.

use time::format_description::FormatItem;
use time::format_description::well_known::Iso8601;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

use crate::domain::presence::Timestamp;

const BASIC: &[FormatItem<'static>] = format_description!("[year][month][day]T[hour][minute][second]Z");
const MINUTES_UTC: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]T[hour]:[minute]Z");
const MINUTES_LOCAL: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]T[hour]:[minute]");
const SECONDS_LOCAL: &[FormatItem<'static>] = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");

/// Formats Unix seconds as `YYYYMMDDTHHMMSSZ`.
pub fn format(at: Timestamp) -> String {
    OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(BASIC).ok())
        .unwrap_or_else(|| "19700101T000000Z".to_string())
}

/// Parses an ICWS date-time into Unix seconds (UTC; a time without offset is taken as UTC).
pub fn parse(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    // No ISO week dates: the `time` crate turns the last days of week 52 of 9999 into a date
    // of year 10000 (a debug assertion fails), and ICWS clients never send them.
    if text.len() > 64 || text.contains('W') {
        return None;
    }
    let utc = |t: PrimitiveDateTime| t.assume_offset(UtcOffset::UTC);
    let parsed = PrimitiveDateTime::parse(text, BASIC)
        .map(utc)
        .or_else(|_| OffsetDateTime::parse(text, &Iso8601::DEFAULT))
        .or_else(|_| PrimitiveDateTime::parse(text, MINUTES_UTC).map(utc))
        .or_else(|_| PrimitiveDateTime::parse(text, SECONDS_LOCAL).map(utc))
        .or_else(|_| PrimitiveDateTime::parse(text, MINUTES_LOCAL).map(utc))
        .ok()?;
    // An offset may carry the instant past year 9999, which `format` cannot write.
    Some(parsed.checked_to_offset(UtcOffset::UTC)?.unix_timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_in_the_basic_form() {
        assert_eq!(format(0), "19700101T000000Z");
        assert_eq!(format(1_329_410_520), "20120216T164200Z");
    }

    #[test]
    fn parses_basic_and_extended_forms() {
        let expected = Some(1_329_410_520);
        for text in [
            "20120216T164200Z",
            "2012-02-16T16:42Z",
            "2012-02-16T16:42:00Z",
            "2012-02-16T16:42:00.000Z",
            "2012-02-16T17:42:00+01:00",
            "2012-02-16T16:42:00",
        ] {
            assert_eq!(parse(text), expected, "{text}");
        }
        for text in ["", "tomorrow", "2012-13-16T16:42Z", "20120216"] {
            assert_eq!(parse(text), None, "{text}");
        }
    }

    /// Found by `fuzz/icws_date`.
    #[test]
    fn refuses_week_dates_and_instants_after_year_9999() {
        for text in ["9999W527", "9999-W52-6", "2012-W07-4T16:42Z", "9999-12-31T23:59:59-23:59"] {
            assert_eq!(parse(text), None, "{text}");
        }
        assert_eq!(parse("9999-12-31T23:59:59Z"), Some(253_402_300_799));
        assert_eq!(format(253_402_300_799), "99991231T235959Z");
    }
}
