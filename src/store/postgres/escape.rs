//! The escape of text that PostgreSQL cannot store: U+0000 (which SQLite stores, and ctid
//! accepts in most fields) is written U+0001 U+0001, and U+0001 is written U+0001 U+0002.
//! Other text, nearly all of it, is stored as it is.
//!
//! The escape maps each character to a code, and keeps equality (it is injective) and byte
//! order (the codes are ordered as their characters, and none is a prefix of another), so
//! unique constraints, `=` and `ORDER BY ... COLLATE "C"` behave on escaped text as SQLite
//! on the original; ASCII lower-casing commutes with it. Only substring search needs care:
//! see [`contains`].

use std::borrow::Cow;

use sqlx::Postgres;

use crate::store::sql::{TextCodec, Value};
use crate::store::{StoreError, StoreResult};

const ESCAPE: char = '\u{1}';

pub(super) fn encode(text: &str) -> Cow<'_, str> {
    if !text.contains(['\0', ESCAPE]) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\0' => out.push_str("\u{1}\u{1}"),
            ESCAPE => out.push_str("\u{1}\u{2}"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn decode(text: String) -> StoreResult<String> {
    if !text.contains(ESCAPE) {
        return Ok(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == ESCAPE {
            match chars.next() {
                Some('\u{1}') => out.push('\0'),
                Some('\u{2}') => out.push(ESCAPE),
                _ => return Err(StoreError::Corrupt(format!("badly escaped text {text:?}"))),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

impl TextCodec for Postgres {
    fn decode(stored: String) -> StoreResult<String> {
        decode(stored)
    }
}

/// SQLite's `instr(haystack, needle) > 0` over escaped text.
///
/// On escaped text a plain substring test is exact unless the escaped needle holds U+0001 or
/// U+0002: only then could it match from the middle of a code (U+0002 alone in the second
/// half of U+0001 U+0002, for instance). Such a needle is searched with a regular expression
/// that only matches it at a code boundary: after an even run of U+0001 that starts the text
/// or follows another character (every other character ends a code).
pub(super) fn contains(haystack: &str, needle: &str) -> (String, Value<'static>) {
    let escaped = encode(needle);
    if escaped.contains([ESCAPE, '\u{2}']) {
        (format!("{haystack} ~ ?"), Value::Stored(boundary_pattern(&escaped)))
    } else {
        (format!("strpos({haystack}, ?) > 0"), needle.to_string().into())
    }
}

/// A PostgreSQL regular expression matching `needle` (escaped text) literally, at a code
/// boundary of the escaped text.
fn boundary_pattern(needle: &str) -> String {
    let mut pattern = String::from("(^|[^\u{1}])(\u{1}\u{1})*");
    for c in needle.chars() {
        // In an ARE, a backslash before a non-alphanumeric character makes it literal.
        if c.is_ascii() && !c.is_ascii_alphanumeric() {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_round_trips_and_keeps_order() {
        let texts = ["", "a", "a\0", "a\u{1}", "a\u{2}", "a\0b", "\u{1}\0\u{1}", "é\0", "\0\0", "\u{2}"];
        for text in texts {
            assert_eq!(decode(encode(text).into_owned()).ok().as_deref(), Some(text));
        }
        for a in texts {
            for b in texts {
                assert_eq!(
                    encode(a).as_bytes().cmp(encode(b).as_bytes()),
                    a.as_bytes().cmp(b.as_bytes()),
                    "{a:?} {b:?}"
                );
            }
        }
        assert!(matches!(encode("plain"), Cow::Borrowed(_)));
        assert!(decode("a\u{1}x".into()).is_err());
    }

    #[test]
    fn the_boundary_pattern_escapes_every_metacharacter() {
        assert_eq!(boundary_pattern("a.b\u{1}\u{1}"), "(^|[^\u{1}])(\u{1}\u{1})*a\\.b\\\u{1}\\\u{1}");
    }
}
