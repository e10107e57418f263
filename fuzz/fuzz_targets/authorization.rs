//! The `Authorization` header: whatever the bytes, one of None/Basic/Bearer/Malformed, and
//! what is understood reads back the same when a client writes it again.
#![no_main]

use base64::Engine;
use libfuzzer_sys::fuzz_target;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use tessera_wire::authorization::{bearer, parse, Authorization};

fuzz_target!(|data: &[u8]| {
    match parse(data) {
        Authorization::Bearer(token) => {
            assert_eq!(bearer(&token).as_deref(), Some(token.as_str()));
            let again = format!("Bearer {token}");
            assert_eq!(parse(again.as_bytes()), Authorization::Bearer(token));
        }
        Authorization::Basic { id, secret } => {
            // A client following RFC 6749 §2.3.1 form-encodes both parts, then base64.
            let encode = |s: &str| utf8_percent_encode(s, NON_ALPHANUMERIC).to_string();
            let pair = format!("{}:{}", encode(&id), encode(&secret));
            let header = format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(pair)
            );
            assert_eq!(
                parse(header.as_bytes()),
                Authorization::Basic { id, secret }
            );
        }
        Authorization::None => panic!("a header that is there is never None"),
        Authorization::Malformed => {}
    }
});
