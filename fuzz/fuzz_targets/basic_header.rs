//! `Authorization: Basic …` as the configuration API reads it: base64 of `user:password`.

#![no_main]

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ctid::auth::webservice::decode_basic;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = std::str::from_utf8(data)
        && let Some((username, password)) = decode_basic(header)
    {
        assert!(!username.contains(':'), "{username:?}");
        let decoded = STANDARD.decode(header.trim()).expect("what was decoded once decodes again");
        assert_eq!(decoded, format!("{username}:{password}").into_bytes());
        let encoded = STANDARD.encode(format!("{username}:{password}"));
        assert_eq!(decode_basic(&encoded), Some((username, password)));
    }

    // Whatever credentials a client encodes are read back, around any padding whitespace.
    if let Ok(text) = std::str::from_utf8(data) {
        let expected = text.split_once(':').map(|(u, p)| (u.to_string(), p.to_string()));
        let encoded = STANDARD.encode(text);
        assert_eq!(decode_basic(&encoded), expected);
        assert_eq!(decode_basic(&format!(" {encoded}\t")), expected);
    }
});
