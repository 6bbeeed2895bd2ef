//! ICWS date-times (`untilDateTime`): the basic form `YYYYMMDDTHHMMSSZ` and extended ISO 8601.

#![no_main]

use ctid::presence::dates::{format, parse};
use libfuzzer_sys::fuzz_target;

/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in Unix seconds.
const FIRST: i64 = -62_167_219_200;
const LAST: i64 = 253_402_300_799;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Some(at) = parse(text)
    {
        let formatted = format(at);
        assert_eq!(parse(&formatted), Some(at), "{text:?} is {at}, formatted as {formatted:?}");
    }

    // Every instant of years 0 to 9999 survives formatting and parsing.
    if let Some(bytes) = data.get(..8) {
        let raw = i64::from_le_bytes(bytes.try_into().expect("eight bytes"));
        let at = FIRST + raw.rem_euclid(LAST - FIRST + 1);
        let formatted = format(at);
        assert_eq!(formatted.len(), 16, "{formatted:?}");
        assert_eq!(parse(&formatted), Some(at), "{at} formatted as {formatted:?}");
    }
});
