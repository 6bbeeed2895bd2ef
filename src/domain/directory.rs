//! The presence directory: the users a session lists, narrowed by a `where` clause, with the
//! members a `select` asks for, one page (`items` range) at a time.
//!
//! The query syntax is the vendor's: `where` is a comma-separated list of conditions that must
//! all hold, each `property operator value` (`configurationId.id sw jo`); `select` a
//! comma-separated list of member names; a page is a range of item positions from 0.

/// Longest `where` or `select` value accepted, in characters.
pub const MAX_QUERY_LEN: usize = 1024;
/// Most conditions a request may combine (every `where` parameter counted).
pub const MAX_CONDITIONS: usize = 16;

/// A property a `where` condition tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `configurationId.id`: the username.
    Id,
    /// `displayName` or `configurationId.displayName`.
    DisplayName,
    /// `extension`: the number of the user's first line that has one.
    Extension,
    /// `statusText`: the message text of the user's current status.
    StatusText,
}

impl Field {
    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "configurationid.id" => Self::Id,
            "displayname" | "configurationid.displayname" => Self::DisplayName,
            "extension" => Self::Extension,
            "statustext" => Self::StatusText,
            _ => return None,
        })
    }
}

/// How a condition compares, always case-insensitively.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `eq`: the whole value.
    Equals,
    /// `sw`: a prefix.
    StartsWith,
    /// `ct`: anywhere.
    Contains,
}

impl Operator {
    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "eq" => Self::Equals,
            "sw" => Self::StartsWith,
            "ct" => Self::Contains,
            _ => return None,
        })
    }
}

/// One condition of a `where` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub field: Field,
    pub operator: Operator,
    /// Lower-cased.
    pub value: String,
}

impl Condition {
    /// Does `entry` satisfy the condition? A member the user lacks (no extension) satisfies none.
    pub fn matches(&self, entry: &Entry) -> bool {
        let Some(text) = entry.value(self.field) else {
            return false;
        };
        let text = text.to_lowercase();
        match self.operator {
            Operator::Equals => text == self.value,
            Operator::StartsWith => text.starts_with(&self.value),
            Operator::Contains => text.contains(&self.value),
        }
    }
}

/// Why a `where` or `select` value was refused; the text is for the client.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// Parses a `where` value into the conditions it combines. Blank conditions (a trailing comma,
/// an empty value) are skipped; the value of a condition is everything after its operator,
/// trimmed, and may be empty (then `sw` and `ct` hold for every user).
pub fn parse_where(text: &str) -> Result<Vec<Condition>, QueryError> {
    if text.chars().count() > MAX_QUERY_LEN {
        return Err(QueryError(format!("The where clause is longer than {MAX_QUERY_LEN} characters.")));
    }
    let mut conditions = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, rest) = part.split_once(char::is_whitespace).unwrap_or((part, ""));
        let rest = rest.trim_start();
        let (operator, value) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
        let field = Field::parse(name).ok_or_else(|| {
            QueryError(format!(
                "The where clause tests {name}: only configurationId.id, displayName, extension and statusText can be tested."
            ))
        })?;
        let operator = Operator::parse(operator).ok_or_else(|| {
            QueryError(format!("The where clause compares with '{operator}': the operators are eq, sw and ct."))
        })?;
        conditions.push(Condition { field, operator, value: value.trim().to_lowercase() });
    }
    Ok(conditions)
}

/// A directory request: its conditions, the members it selects and the page it asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pub conditions: Vec<Condition>,
    pub selection: Selection,
    pub range: Option<ItemRange>,
}

impl Query {
    /// Adds the conditions of one `where` value to those of the others: all must hold.
    pub fn add_where(&mut self, text: &str) -> Result<(), QueryError> {
        let conditions = parse_where(text)?;
        if self.conditions.len() + conditions.len() > MAX_CONDITIONS {
            return Err(QueryError(format!("The where clause combines more than {MAX_CONDITIONS} conditions.")));
        }
        self.conditions.extend(conditions);
        Ok(())
    }

    /// Does some condition test `field` (so it must be known of every user, not only of a page)?
    pub fn tests(&self, field: Field) -> bool {
        self.conditions.iter().any(|c| c.field == field)
    }

    /// Does `entry` satisfy every condition?
    pub fn matches(&self, entry: &Entry) -> bool {
        self.conditions.iter().all(|c| c.matches(entry))
    }
}

/// The members an item carries besides `configurationId` (always there).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Selection {
    pub display_name: bool,
    pub extension: bool,
    pub status_text: bool,
}

impl Selection {
    /// Adds the members a `select` value names: names are case-insensitive, `*` names every
    /// member, unknown names are ignored.
    pub fn add(&mut self, text: &str) -> Result<(), QueryError> {
        if text.chars().count() > MAX_QUERY_LEN {
            return Err(QueryError(format!("The select list is longer than {MAX_QUERY_LEN} characters.")));
        }
        for name in text.split(',').map(str::trim) {
            match name.to_ascii_lowercase().as_str() {
                "*" => *self = Self { display_name: true, extension: true, status_text: true },
                "displayname" => self.display_name = true,
                "extension" => self.extension = true,
                "statustext" => self.status_text = true,
                _ => {}
            }
        }
        Ok(())
    }
}

/// What a session may read of one user in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub user_id: i64,
    /// The username, stored spelling.
    pub id: String,
    pub display_name: String,
    /// `None` while not looked up, or when the user has no line with a number.
    pub extension: Option<String>,
    /// `None` while not looked up, or when the user has no status.
    pub status_text: Option<String>,
}

impl Entry {
    fn value(&self, field: Field) -> Option<&str> {
        match field {
            Field::Id => Some(&self.id),
            Field::DisplayName => Some(&self.display_name),
            Field::Extension => self.extension.as_deref(),
            Field::StatusText => self.status_text.as_deref(),
        }
    }
}

/// Directory order: display name (case-insensitive), then username.
pub fn sort(entries: &mut [Entry]) {
    entries.sort_by_cached_key(|e| (e.display_name.to_lowercase(), e.id.clone()));
}

/// A requested range of item positions (from 0), as `items=` ranges are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemRange {
    /// `first-last`, both included.
    Span { first: u64, last: u64 },
    /// `first-`: to the end.
    From(u64),
    /// `-count`: the last `count` items.
    Last(u64),
}

/// Why a `Range` header was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    #[error("The Range header is not a valid items range: expected items=first-last.")]
    Malformed,
    #[error("Only one items range can be requested at a time.")]
    Several,
}

/// Most digits of a position (`u64::MAX` has 20); a longer or larger one is malformed.
const MAX_DIGITS: usize = 20;

/// Parses a `Range` header value. `Ok(None)` when its unit is not `items` (such a range is
/// ignored); units are case-insensitive and blanks around the parts are allowed.
pub fn parse_range(header: &str) -> Result<Option<ItemRange>, RangeError> {
    let (unit, spec) = header.split_once('=').unwrap_or((header, ""));
    if !unit.trim().eq_ignore_ascii_case("items") {
        return Ok(None);
    }
    let spec = spec.trim();
    if spec.contains(',') {
        return Err(RangeError::Several);
    }
    let (first, last) = spec.split_once('-').ok_or(RangeError::Malformed)?;
    let number = |text: &str| -> Result<u64, RangeError> {
        let text = text.trim();
        if text.is_empty() || text.len() > MAX_DIGITS || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(RangeError::Malformed);
        }
        text.parse().map_err(|_| RangeError::Malformed)
    };
    let range = match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => return Err(RangeError::Malformed),
        (true, false) => ItemRange::Last(number(last)?),
        (false, true) => ItemRange::From(number(first)?),
        (false, false) => {
            let (first, last) = (number(first)?, number(last)?);
            if last < first {
                return Err(RangeError::Malformed);
            }
            ItemRange::Span { first, last }
        }
    };
    Ok(Some(range))
}

/// What a range selects of `total` items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// Every item: the first page of an empty list is the whole (empty) list.
    Whole,
    /// Positions `first..=last`, both within the list.
    Part { first: u64, last: u64 },
}

/// No item of the list lies in the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unsatisfiable;

impl ItemRange {
    /// The page of a list of `total` items: a range running past the end stops at the last
    /// item; one that starts past it selects nothing and is refused, except that the first page
    /// of an empty list is the whole list.
    pub fn resolve(self, total: u64) -> Result<Page, Unsatisfiable> {
        let (first, last) = match self {
            Self::Span { first, last } => (first, last),
            Self::From(first) => (first, u64::MAX),
            Self::Last(0) => return Err(Unsatisfiable),
            Self::Last(count) => (total.saturating_sub(count), u64::MAX),
        };
        if total == 0 && first == 0 {
            return Ok(Page::Whole);
        }
        if first >= total {
            return Err(Unsatisfiable);
        }
        Ok(Page::Part { first, last: last.min(total - 1) })
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn entry(id: &str, display_name: &str) -> Entry {
        Entry { user_id: 1, id: id.into(), display_name: display_name.into(), extension: None, status_text: None }
    }

    #[test]
    fn where_combines_conditions_with_commas() {
        let conditions = parse_where("configurationId.id sw Jo, displayName CT  Doe Smith ,").expect("valid");
        assert_eq!(
            conditions,
            [
                Condition { field: Field::Id, operator: Operator::StartsWith, value: "jo".into() },
                Condition { field: Field::DisplayName, operator: Operator::Contains, value: "doe smith".into() },
            ]
        );
        assert_eq!(parse_where("").expect("empty"), []);
        assert_eq!(parse_where("extension eq").expect("empty value")[0].value, "");
    }

    #[test]
    fn where_refuses_unknown_properties_and_operators() {
        for text in ["configurationId.id = jo", "id sw jo", "displayName", "ntDomainUser eq x", "statusText lt a"] {
            assert!(parse_where(text).is_err(), "{text}");
        }
        assert!(parse_where(&"a".repeat(MAX_QUERY_LEN + 1)).is_err());
    }

    #[test]
    fn every_where_value_adds_conditions_up_to_the_limit() {
        let mut query = Query::default();
        query.add_where("displayName sw j").expect("valid");
        query.add_where(&vec!["configurationId.id ct o"; MAX_CONDITIONS - 1].join(",")).expect("at the limit");
        assert_eq!(query.conditions.len(), MAX_CONDITIONS);
        assert!(query.add_where("extension eq 1").is_err());
        assert!(query.tests(Field::Id) && query.tests(Field::DisplayName) && !query.tests(Field::Extension));
        assert!(query.matches(&entry("jdoe", "John Doe")));
        assert!(!query.matches(&entry("jdoe", "Ann Doe")));
    }

    #[test]
    fn conditions_ignore_case_and_missing_members() {
        let jo = entry("JDoe", "Jöhn Doe");
        let holds = |text: &str| parse_where(text).expect("valid")[0].matches(&jo);
        assert!(holds("configurationId.id eq jdoe"));
        assert!(holds("displayName sw JÖHN"));
        assert!(holds("configurationId.displayName ct n d"));
        assert!(!holds("configurationId.id eq jdo"));
        assert!(!holds("extension sw "));
        assert!(holds("configurationId.id ct "));
    }

    #[test]
    fn select_names_members_case_insensitively() {
        let mut selection = Selection::default();
        selection.add("configurationId, DisplayName,unknown").expect("valid");
        assert_eq!(selection, Selection { display_name: true, extension: false, status_text: false });
        selection.add("statusText").expect("valid");
        assert!(selection.status_text && !selection.extension);
        let mut all = Selection::default();
        all.add("*").expect("valid");
        assert_eq!(all, Selection { display_name: true, extension: true, status_text: true });
        assert!(Selection::default().add(&",".repeat(MAX_QUERY_LEN + 1)).is_err());
    }

    #[test]
    fn sorts_by_display_name_then_id() {
        let mut entries = vec![entry("b", "bob"), entry("a2", "Alice"), entry("a1", "alice"), entry("c", "Carol")];
        sort(&mut entries);
        let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(ids, ["a1", "a2", "b", "c"]);
    }

    #[test]
    fn ranges_parse() {
        assert_eq!(parse_range("items=0-199"), Ok(Some(ItemRange::Span { first: 0, last: 199 })));
        assert_eq!(parse_range(" Items = 5 - 9 "), Ok(Some(ItemRange::Span { first: 5, last: 9 })));
        assert_eq!(parse_range("items=200-"), Ok(Some(ItemRange::From(200))));
        assert_eq!(parse_range("items=-10"), Ok(Some(ItemRange::Last(10))));
        assert_eq!(parse_range("bytes=0-10"), Ok(None));
        assert_eq!(parse_range("whatever"), Ok(None));
        assert_eq!(parse_range("items=0-1,5-6"), Err(RangeError::Several));
        for bad in [
            "items",
            "items=",
            "items=-",
            "items=5-2",
            "items=a-b",
            "items=+1-2",
            "items=1",
            "items=99999999999999999999-",
            "items=18446744073709551616-",
            "items=000000000000000000001-",
        ] {
            assert_eq!(parse_range(bad), Err(RangeError::Malformed), "{bad}");
        }
    }

    #[test]
    fn ranges_resolve_against_the_total() {
        let span = |first, last| ItemRange::Span { first, last };
        assert_eq!(span(0, 199).resolve(450), Ok(Page::Part { first: 0, last: 199 }));
        assert_eq!(span(400, 599).resolve(450), Ok(Page::Part { first: 400, last: 449 }));
        assert_eq!(span(449, 449).resolve(450), Ok(Page::Part { first: 449, last: 449 }));
        assert_eq!(span(450, 599).resolve(450), Err(Unsatisfiable));
        assert_eq!(ItemRange::From(10).resolve(12), Ok(Page::Part { first: 10, last: 11 }));
        assert_eq!(ItemRange::Last(5).resolve(3), Ok(Page::Part { first: 0, last: 2 }));
        assert_eq!(ItemRange::Last(0).resolve(3), Err(Unsatisfiable));
        assert_eq!(span(0, 199).resolve(0), Ok(Page::Whole));
        assert_eq!(ItemRange::Last(3).resolve(0), Ok(Page::Whole));
        assert_eq!(span(1, 199).resolve(0), Err(Unsatisfiable));
    }

    proptest! {
        #[test]
        fn written_ranges_parse_back(first in 0u64..u64::MAX, len in 0u64..1000) {
            let last = first.saturating_add(len);
            prop_assert_eq!(parse_range(&format!("items={first}-{last}")), Ok(Some(ItemRange::Span { first, last })));
        }

        #[test]
        fn a_resolved_page_lies_within_the_list(first in 0u64..50, len in 0u64..50, total in 0u64..60) {
            match (ItemRange::Span { first, last: first + len }).resolve(total) {
                Ok(Page::Part { first: f, last: l }) => prop_assert!(f == first && f <= l && l < total && l <= first + len),
                Ok(Page::Whole) => prop_assert!(total == 0 && first == 0),
                Err(Unsatisfiable) => prop_assert!(first >= total && !(total == 0 && first == 0)),
            }
        }

        #[test]
        fn any_where_text_parses_or_is_refused(text in ".{0,80}") {
            if let Ok(conditions) = parse_where(&text) {
                prop_assert!(conditions.len() <= text.split(',').count());
                for c in conditions {
                    prop_assert!(!c.value.contains(',') && c.value.trim() == c.value);
                }
            }
        }
    }
}
