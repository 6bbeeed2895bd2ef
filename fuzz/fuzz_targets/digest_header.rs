//! `Authorization: Digest …` as the configuration API reads it: the parameters after the
//! scheme, then the check of the answer against a nonce registry.

#![no_main]

use ctid::auth::digest::{DigestParams, NonceRegistry, expected_response, parse};
use libfuzzer_sys::fuzz_target;

/// Are the characters of `part` found in `whole`, in order?
fn subsequence(part: &str, whole: &str) -> bool {
    let mut rest = whole.chars();
    part.chars().all(|c| rest.any(|w| w == c))
}

fn fields(p: &DigestParams) -> Vec<(&'static str, &str)> {
    let mut out = vec![
        ("username", p.username.as_str()),
        ("realm", p.realm.as_str()),
        ("nonce", p.nonce.as_str()),
        ("uri", p.uri.as_str()),
        ("response", p.response.as_str()),
    ];
    for (name, value) in [("qop", &p.qop), ("nc", &p.nc), ("cnonce", &p.cnonce), ("algorithm", &p.algorithm)] {
        if let Some(value) = value {
            out.push((name, value.as_str()));
        }
    }
    out
}

/// The header a client would send for `p`, every value quoted.
fn render(p: &DigestParams) -> String {
    let quote = |v: &str| v.replace('\\', "\\\\").replace('"', "\\\"");
    fields(p).iter().map(|(name, value)| format!("{name}=\"{}\"", quote(value))).collect::<Vec<_>>().join(", ")
}

fuzz_target!(|data: &[u8]| {
    let Ok(header) = std::str::from_utf8(data) else { return };
    let Some(params) = parse(header) else { return };
    for (name, value) in fields(&params) {
        assert!(subsequence(value, header), "{name}={value:?} is not read from {header:?}");
        if !header.contains('\\') {
            assert!(header.contains(value), "{name}={value:?} is not a substring of {header:?}");
        }
    }
    let rendered = render(&params);
    assert_eq!(parse(&rendered).as_ref(), Some(&params), "{rendered:?}");

    let registry = NonceRegistry::default();
    let nonce = registry.issue();
    let mut answer = params.clone();
    answer.nonce = nonce;
    answer.response = expected_response("00112233445566778899aabbccddeeff", "GET", &answer);
    let _ = registry.verify(&answer, "XivoRealm", "GET", &params.uri, "00112233445566778899aabbccddeeff");
    let _ = registry.verify(&params, "XivoRealm", "GET", &params.uri, "00112233445566778899aabbccddeeff");
});
