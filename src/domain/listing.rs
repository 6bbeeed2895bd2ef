//! Parameters of the users list: search, ordering and paging.

use super::validation::ValidationError;

/// Columns the users list can be ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UserOrder {
    Firstname,
    #[default]
    Lastname,
    Fullname,
    CallerId,
    Description,
    Userfield,
}

impl UserOrder {
    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "firstname" => Self::Firstname,
            "lastname" => Self::Lastname,
            "fullname" => Self::Fullname,
            "caller_id" => Self::CallerId,
            "description" => Self::Description,
            "userfield" => Self::Userfield,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

/// A validated users list request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UserListQuery {
    pub search: Option<String>,
    pub order: UserOrder,
    pub direction: Direction,
    pub limit: Option<u32>,
    pub skip: u64,
}

impl UserListQuery {
    /// Parses the query parameters of `GET /1.1/users`; unknown parameters are ignored.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, ValidationError> {
        let mut query = Self::default();
        let mut invalid = Vec::new();
        for (key, value) in pairs {
            match key {
                "search" => query.search = Some(value.to_string()),
                "q" if query.search.is_none() => query.search = Some(value.to_string()),
                "order" => match UserOrder::parse(value) {
                    Some(order) => query.order = order,
                    None => invalid.push(format!("ordering column '{value}' does not exist")),
                },
                "direction" => match value {
                    "asc" => query.direction = Direction::Asc,
                    "desc" => query.direction = Direction::Desc,
                    _ => invalid.push("direction must be 'asc' or 'desc'".to_string()),
                },
                "limit" => match value.parse::<u32>() {
                    Ok(limit) if limit > 0 => query.limit = Some(limit),
                    _ => invalid.push("limit must be a positive number".to_string()),
                },
                "skip" | "offset" => match value.parse::<u64>() {
                    Ok(skip) if i64::try_from(skip).is_ok() => query.skip = skip,
                    _ => invalid.push(format!("{key} must be a positive number or zero")),
                },
                _ => {}
            }
        }
        if query.search.as_deref() == Some("") {
            query.search = None;
        }
        if invalid.is_empty() { Ok(query) } else { Err(ValidationError::Invalid(invalid)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_parameter() {
        let q = UserListQuery::parse([
            ("search", "jo"),
            ("order", "firstname"),
            ("direction", "desc"),
            ("limit", "5"),
            ("offset", "10"),
        ])
        .expect("valid");
        assert_eq!(
            q,
            UserListQuery {
                search: Some("jo".into()),
                order: UserOrder::Firstname,
                direction: Direction::Desc,
                limit: Some(5),
                skip: 10
            }
        );
    }

    #[test]
    fn reports_every_bad_value() {
        let err = UserListQuery::parse([("limit", "0"), ("direction", "up"), ("order", "x")]).expect_err("invalid");
        assert_eq!(
            err.to_string(),
            "Invalid parameters: limit must be a positive number,direction must be 'asc' or 'desc',ordering column 'x' does not exist"
        );
    }

    #[test]
    fn legacy_q_is_a_search() {
        let q = UserListQuery::parse([("q", "doe")]).expect("valid");
        assert_eq!(q.search.as_deref(), Some("doe"));
    }
}
