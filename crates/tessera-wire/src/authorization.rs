//! The `Authorization` header, read strictly: `Basic` client credentials (RFC 6749 §2.3.1,
//! RFC 7617) and `Bearer` tokens (RFC 6750 §2.1).

use base64::Engine;
use percent_encoding::percent_decode_str;
use std::borrow::Cow;

#[derive(Debug, PartialEq, Eq)]
pub enum Authorization {
    None,
    Basic {
        id: String,
        secret: String,
    },
    Bearer(String),
    /// Present but not understood: another scheme, bad base64, several headers.
    Malformed,
}

/// One `Authorization` header's value. (No header at all is [`Authorization::None`]; several
/// are the caller's to refuse as [`Authorization::Malformed`].)
pub fn parse(value: &[u8]) -> Authorization {
    let Ok(value) = std::str::from_utf8(value) else {
        return Authorization::Malformed;
    };
    let (scheme, rest) = value.split_once(' ').unwrap_or((value, ""));
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return bearer(rest).map_or(Authorization::Malformed, Authorization::Bearer);
    }
    if scheme.eq_ignore_ascii_case("basic") {
        return basic(rest).unwrap_or(Authorization::Malformed);
    }
    Authorization::Malformed
}

/// RFC 6750 `b64token`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
pub fn bearer(value: &str) -> Option<String> {
    let body = value.trim_end_matches('=');
    let valid = !body.is_empty()
        && value.len() <= 4096
        && body.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')
        });
    valid.then(|| value.to_owned())
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`; RFC 6749 §2.3.1 has both parts
/// form-urlencoded before base64.
fn basic(value: &str) -> Option<Authorization> {
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        // Most ids and secrets have nothing to unescape: no copies then.
        let spaced = match s.contains('+') {
            true => Cow::Owned(s.replace('+', " ")),
            false => Cow::Borrowed(s),
        };
        percent_decode_str(&spaced)
            .decode_utf8()
            .ok()
            .map(|c| c.into_owned())
    };
    Some(Authorization::Basic {
        id: unescape(id)?,
        secret: unescape(secret)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_unescaped() {
        // "my%20client:se%3Acret" -> id "my client", secret "se:cret"
        let encoded = base64::engine::general_purpose::STANDARD.encode("my%20client:se%3Acret");
        assert_eq!(
            parse(format!("Basic {encoded}").as_bytes()),
            Authorization::Basic {
                id: "my client".into(),
                secret: "se:cret".into()
            }
        );
    }

    #[test]
    fn bearer_tokens_follow_the_b64token_syntax() {
        assert_eq!(
            parse(b"Bearer tsr_abc"),
            Authorization::Bearer("tsr_abc".into())
        );
        assert_eq!(parse(b"bearer a=="), Authorization::Bearer("a==".into()));
        assert_eq!(parse(b"Bearer a b"), Authorization::Malformed);
        assert_eq!(parse(b"Bearer "), Authorization::Malformed);
        assert_eq!(parse(b"Digest x"), Authorization::Malformed);
        assert_eq!(parse(b"Basic !!!"), Authorization::Malformed);
        assert_eq!(parse(b"Bearer \xff"), Authorization::Malformed);
    }
}
