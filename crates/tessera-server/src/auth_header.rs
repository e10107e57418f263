//! The `Authorization` header of a request, read by [`tessera_wire::authorization`].

use axum::http::{header, HeaderMap};
pub use tessera_wire::authorization::{bearer, Authorization};

/// The request's credentials: none, one header read strictly, or `Malformed` for several.
pub fn authorization(headers: &HeaderMap) -> Authorization {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Authorization::None;
    };
    if values.next().is_some() {
        return Authorization::Malformed;
    }
    tessera_wire::authorization::parse(value.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn no_header_is_none_and_two_are_malformed() {
        let mut headers = HeaderMap::new();
        assert_eq!(authorization(&headers), Authorization::None);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer a"));
        assert_eq!(authorization(&headers), Authorization::Bearer("a".into()));
        headers.append(header::AUTHORIZATION, HeaderValue::from_static("Bearer b"));
        assert_eq!(authorization(&headers), Authorization::Malformed);
    }
}
