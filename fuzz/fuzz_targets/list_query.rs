//! The query string of `GET /1.1/users`: decoded as the HTTP layer does (axum's `Query` of
//! pairs), then read into a `UserListQuery`.

#![no_main]

use axum::extract::Query;
use axum::http::Uri;
use ctid::domain::listing::{Direction, UserListQuery, UserOrder};
use libfuzzer_sys::fuzz_target;

fn pairs(target: &str) -> Option<Vec<(String, String)>> {
    let uri: Uri = target.parse().ok()?;
    Query::<Vec<(String, String)>>::try_from_uri(&uri).ok().map(|Query(pairs)| pairs)
}

fn order_name(order: UserOrder) -> &'static str {
    match order {
        UserOrder::Firstname => "firstname",
        UserOrder::Lastname => "lastname",
        UserOrder::Fullname => "fullname",
        UserOrder::CallerId => "caller_id",
        UserOrder::Description => "description",
        UserOrder::Userfield => "userfield",
    }
}

/// The query string that asks for exactly `query`.
fn render(query: &UserListQuery) -> String {
    let mut pairs = vec![
        ("order", order_name(query.order).to_string()),
        ("direction", if query.direction == Direction::Asc { "asc" } else { "desc" }.to_string()),
        ("skip", query.skip.to_string()),
    ];
    if let Some(search) = &query.search {
        pairs.push(("search", search.clone()));
    }
    if let Some(limit) = query.limit {
        pairs.push(("limit", limit.to_string()));
    }
    serde_urlencoded::to_string(pairs).expect("pairs of strings encode")
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Some(params) = pairs(&format!("/1.1/users?{raw}")) else { return };
    let query = match UserListQuery::parse(params.iter().map(|(k, v)| (k.as_str(), v.as_str()))) {
        Ok(query) => query,
        Err(error) => {
            assert!(error.to_string().starts_with("Invalid parameters: "), "{error}");
            return;
        }
    };
    assert_ne!(query.limit, Some(0));
    assert!(i64::try_from(query.skip).is_ok());
    assert_ne!(query.search.as_deref(), Some(""));

    let rendered = render(&query);
    let again = pairs(&format!("/1.1/users?{rendered}")).expect("a rendered query is a valid target");
    let reread = UserListQuery::parse(again.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    assert_eq!(reread.as_ref(), Ok(&query), "{rendered:?}");
});
