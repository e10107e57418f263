//! Query strings and bodies as every door reads them: whatever the bytes, an answer or a
//! `ParamError`, and the rules hold (no more than MAX_PARAMS, empty values count as absent).
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_wire::params::{ParamError, Params, MAX_PARAMS};

const CONTENT_TYPES: [Option<&str>; 5] = [
    None,
    Some("application/x-www-form-urlencoded"),
    Some("application/json; charset=UTF-8"),
    Some("APPLICATION/JSON"),
    Some("text/plain"),
];

fuzz_target!(|data: &[u8]| {
    // The first byte picks the content type; a NUL splits the query from the body.
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let content_type = CONTENT_TYPES[pick as usize % CONTENT_TYPES.len()];
    let (query, body) = match rest.iter().position(|b| *b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (&b""[..], rest),
    };
    let Ok(query) = std::str::from_utf8(query) else {
        return;
    };
    match Params::from_query_and_body(Some(query), content_type, body) {
        Ok(params) => {
            for name in ["grant_type", "username", "password", "user_id", "f", "a"] {
                match params.get(name) {
                    Ok(Some(value)) => {
                        assert!(!value.is_empty(), "an empty value counts as absent")
                    }
                    Ok(None) | Err(ParamError::Repeated(_)) => {}
                    Err(other) => panic!("get can only find a repeat, not {other:?}"),
                }
            }
        }
        Err(ParamError::TooLarge | ParamError::Unreadable) => {
            panic!("the parser never reads a body itself")
        }
        Err(_) => {}
    }
    // More than MAX_PARAMS pairs is always refused.
    if body.is_empty() && query.split('&').filter(|p| !p.is_empty()).count() > MAX_PARAMS {
        assert!(Params::from_urlencoded(query.as_bytes()).is_err());
    }
});
