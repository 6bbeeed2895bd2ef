//! Reports over the presence history: the time each user spent in each status and on the
//! phone over a window (see [`super::history::Window`]).

use super::history::Window;
use super::validation::ValidationError;

/// Milliseconds in a UTC day.
pub const DAY_MS: i64 = 86_400_000;
/// The most users one report may name.
pub const MAX_USERS: usize = 1000;

/// A validated time-in-status request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    pub window: Window,
    /// The users to report on, in the order given, without repeats; empty: all users.
    pub users: Vec<i64>,
}

impl ReportQuery {
    /// Parses `from`, `to` (see [`Window::parse`]) and any number of `user_id` (at most
    /// [`MAX_USERS`]); other parameters are ignored.
    pub fn parse<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
        now_ms: i64,
    ) -> Result<Self, ValidationError> {
        let (mut from, mut to) = (None, None);
        let mut users = Vec::new();
        let mut bad_user = false;
        for (key, value) in pairs {
            match key {
                "from" => from = Some(value),
                "to" => to = Some(value),
                "user_id" => match value.parse::<i64>() {
                    Ok(id) if !users.contains(&id) => users.push(id),
                    Ok(_) => {}
                    Err(_) => bad_user = true,
                },
                _ => {}
            }
        }
        if bad_user || users.len() > MAX_USERS {
            return Err(ValidationError::Invalid(vec!["user_id".into()]));
        }
        Ok(Self { window: Window::parse(from, to, now_ms)?, users })
    }
}

/// The time one user spent in one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusTime {
    pub status_id: String,
    /// The status's group tag in the catalog; `None` for a status no longer in it.
    pub group_tag: Option<String>,
    pub ms: i64,
}

/// The time one user spent in each status, and on the phone, over a window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTime {
    pub user_id: i64,
    pub username: Option<String>,
    /// In catalog display order; statuses no longer in the catalog last, by id.
    pub statuses: Vec<StatusTime>,
    pub on_phone_ms: i64,
}

/// A part of a window: whole days read from the rollups, or a span read from the raw history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// Days `[first, last)` (days since 1970-01-01 UTC), all rolled up.
    Days(i64, i64),
    /// The span `[from, to)` in Unix milliseconds.
    Raw(i64, i64),
}

/// The UTC day of Unix milliseconds `at`.
pub fn day_of(at: i64) -> i64 {
    at.div_euclid(DAY_MS)
}

/// Splits `[from, to)` into pieces: runs of whole days for which `rolled(day)` holds, and raw
/// spans for the rest (partial days at the edges, days not rolled up), adjacent spans merged.
pub fn pieces(from: i64, to: i64, rolled: impl Fn(i64) -> bool) -> Vec<Piece> {
    let mut out: Vec<Piece> = Vec::new();
    let mut push = |piece: Piece| match (out.last_mut(), piece) {
        (Some(Piece::Days(_, end)), Piece::Days(first, last)) if *end == first => *end = last,
        (Some(Piece::Raw(_, end)), Piece::Raw(start, stop)) if *end == start => *end = stop,
        _ => out.push(piece),
    };
    let mut at = from;
    while at < to {
        let day = day_of(at);
        let day_end = (day + 1) * DAY_MS;
        if at == day * DAY_MS && day_end <= to && rolled(day) {
            push(Piece::Days(day, day + 1));
        } else {
            push(Piece::Raw(at, day_end.min(to)));
        }
        at = day_end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_read_their_users() {
        let now = 1_800_000_000_000;
        let query = ReportQuery::parse([("user_id", "3"), ("user_id", "1"), ("user_id", "3"), ("x", "y")], now);
        assert_eq!(query.expect("valid").users, vec![3, 1]);
        let bad = ReportQuery::parse([("user_id", "me")], now);
        assert_eq!(bad, Err(ValidationError::Invalid(vec!["user_id".into()])));
        let many: Vec<String> = (0..=MAX_USERS).map(|i| i.to_string()).collect();
        let too_many = ReportQuery::parse(many.iter().map(|id| ("user_id", id.as_str())), now);
        assert_eq!(too_many, Err(ValidationError::Invalid(vec!["user_id".into()])));
        let bad_to = ReportQuery::parse([("from", "2027-01-02T00:00:00Z"), ("to", "2027-01-01T00:00:00Z")], now);
        assert_eq!(bad_to, Err(ValidationError::Invalid(vec!["to".into()])));
    }

    #[test]
    fn whole_rolled_days_are_read_from_rollups() {
        let d = DAY_MS;
        assert_eq!(pieces(0, 3 * d, |_| true), vec![Piece::Days(0, 3)]);
        assert_eq!(
            pieces(5, 3 * d - 5, |_| true),
            vec![Piece::Raw(5, d), Piece::Days(1, 2), Piece::Raw(2 * d, 3 * d - 5)]
        );
        assert_eq!(
            pieces(0, 4 * d, |day| day != 2),
            vec![Piece::Days(0, 2), Piece::Raw(2 * d, 3 * d), Piece::Days(3, 4)]
        );
        assert_eq!(pieces(0, 3 * d, |_| false), vec![Piece::Raw(0, 3 * d)]);
        assert_eq!(pieces(7, 7, |_| true), vec![]);
        assert_eq!(pieces(-d - 5, 0, |_| true), vec![Piece::Raw(-d - 5, -d), Piece::Days(-1, 0)]);
    }
}
