//! The `include` parameter of `POST /icws/connection`: decoded as the HTTP layer does (axum's
//! `Query` of pairs), then split into the names of the optional members of the answer.

#![no_main]

use axum::extract::Query;
use axum::http::Uri;
use ctid::http::icws::connection::includes;
use libfuzzer_sys::fuzz_target;

fn pairs(target: &str) -> Option<Vec<(String, String)>> {
    let uri: Uri = target.parse().ok()?;
    Query::<Vec<(String, String)>>::try_from_uri(&uri).ok().map(|Query(pairs)| pairs)
}

fuzz_target!(|data: &[u8]| {
    let Ok(raw) = std::str::from_utf8(data) else { return };
    let Some(params) = pairs(&format!("/icws/connection?{raw}")) else { return };
    let names = includes(&params);
    let expected: usize = params.iter().filter(|(k, _)| k == "include").map(|(_, v)| v.split(',').count()).sum();
    assert_eq!(names.len(), expected);
    for name in &names {
        assert!(!name.contains(','), "{name:?}");
        assert_eq!(name, name.trim(), "{name:?}");
    }

    // The names a client lists come back, whatever spacing and splitting it uses.
    let wanted: Vec<String> = names.iter().filter(|n| !n.is_empty()).cloned().collect();
    let split: Vec<(String, String)> = wanted.iter().map(|n| ("include".to_string(), format!(" {n} "))).collect();
    let joined = vec![("include".to_string(), wanted.join(","))];
    assert_eq!(includes(&split), wanted);
    if !wanted.is_empty() {
        assert_eq!(includes(&joined), wanted);
    }
});
