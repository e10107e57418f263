//! Request parameters, read strictly: from an urlencoded or JSON body (or a query string), with
//! invalid UTF-8, repeated parameters and oversized requests refused instead of guessed at.
//!
//! RFC 6749 §3.1 says parameters sent without a value are treated as omitted and parameters
//! must not be repeated; every door gets the same rules, and each maps [`ParamError`] onto its
//! own error format. Reading the body itself (and its size limit) is the server's job.

use percent_encoding::percent_decode;
use std::fmt;

/// More parameters than this is not a client, it is an attack.
pub const MAX_PARAMS: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParamError {
    InvalidUtf8,
    InvalidJson,
    Repeated(String),
    TooMany,
    UnsupportedContentType,
    /// The body is over the server's limit (`body_limit_bytes`).
    TooLarge,
    /// The body could not be read (the client went away mid-way, say).
    Unreadable,
}

impl fmt::Display for ParamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParamError::InvalidUtf8 => f.write_str("the request is not valid UTF-8"),
            ParamError::InvalidJson => f.write_str("the request body is not a JSON object"),
            ParamError::Repeated(name) => write!(f, "the parameter {name:?} is repeated"),
            ParamError::TooMany => write!(f, "the request has more than {MAX_PARAMS} parameters"),
            ParamError::UnsupportedContentType => f.write_str(
                "the body must be application/x-www-form-urlencoded or application/json",
            ),
            ParamError::TooLarge => f.write_str("the request body is too large"),
            ParamError::Unreadable => f.write_str("the request body could not be read"),
        }
    }
}

#[derive(Debug, Default, Clone)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Parses `a=1&b=two+words&c=%C3%A9`.
    pub fn from_urlencoded(input: &[u8]) -> Result<Self, ParamError> {
        let mut pairs = Vec::new();
        for piece in input.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
            if pairs.len() == MAX_PARAMS {
                return Err(ParamError::TooMany);
            }
            let (name, value) = match piece.iter().position(|b| *b == b'=') {
                Some(i) => (&piece[..i], &piece[i + 1..]),
                None => (piece, &b""[..]),
            };
            pairs.push((decode_component(name)?, decode_component(value)?));
        }
        Ok(Self { pairs })
    }

    /// Parses a JSON object; strings are taken as they are, numbers and booleans as their text.
    /// Nested values are ignored, like unknown parameters.
    pub fn from_json(input: &[u8]) -> Result<Self, ParamError> {
        let value: serde_json::Value =
            serde_json::from_slice(input).map_err(|_| ParamError::InvalidJson)?;
        let serde_json::Value::Object(map) = value else {
            return Err(ParamError::InvalidJson);
        };
        if map.len() > MAX_PARAMS {
            return Err(ParamError::TooMany);
        }
        let pairs = map
            .into_iter()
            .filter_map(|(name, value)| match value {
                serde_json::Value::String(s) => Some((name, s)),
                serde_json::Value::Number(n) => Some((name, n.to_string())),
                serde_json::Value::Bool(b) => Some((name, b.to_string())),
                _ => None,
            })
            .collect();
        Ok(Self { pairs })
    }

    /// Parses a body by its `Content-Type` (the header's value, if any): urlencoded or JSON;
    /// an empty body without a type is no parameters.
    pub fn from_body(content_type: Option<&str>, body: &[u8]) -> Result<Self, ParamError> {
        let media_type = content_type.map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
        match media_type.as_deref() {
            Some("application/x-www-form-urlencoded") => Self::from_urlencoded(body),
            Some("application/json") => Self::from_json(body),
            None if body.is_empty() => Ok(Self::default()),
            _ => Err(ParamError::UnsupportedContentType),
        }
    }

    /// The query string's parameters and the body's together, as the vendor doors read them
    /// (ExtraView, ArcGIS): a parameter in both counts as repeated.
    pub fn from_query_and_body(
        query: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Result<Self, ParamError> {
        Self::from_urlencoded(query.unwrap_or("").as_bytes())?
            .with(Self::from_body(content_type, body)?)
    }

    /// These parameters and `other`'s together (a query string and a body): a parameter in
    /// both counts as repeated.
    pub fn with(mut self, other: Params) -> Result<Self, ParamError> {
        if self.pairs.len() + other.pairs.len() > MAX_PARAMS {
            return Err(ParamError::TooMany);
        }
        self.pairs.extend(other.pairs);
        Ok(self)
    }

    /// The value of a parameter; empty values count as absent, repeats are an error.
    pub fn get(&self, name: &str) -> Result<Option<&str>, ParamError> {
        let mut found = None;
        for (key, value) in &self.pairs {
            if key == name && !value.is_empty() {
                if found.is_some() {
                    return Err(ParamError::Repeated(name.to_owned()));
                }
                found = Some(value.as_str());
            }
        }
        Ok(found)
    }
}

fn decode_component(raw: &[u8]) -> Result<String, ParamError> {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_decode(&spaced)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| ParamError::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urlencoded_values_are_decoded() {
        let params = Params::from_urlencoded(b"a=1&b=two+words&c=%C3%A9&d=&&e").unwrap();
        assert_eq!(params.get("a").unwrap(), Some("1"));
        assert_eq!(params.get("b").unwrap(), Some("two words"));
        assert_eq!(params.get("c").unwrap(), Some("é"));
        assert_eq!(params.get("d").unwrap(), None);
        assert_eq!(params.get("e").unwrap(), None);
    }

    #[test]
    fn repeats_and_bad_utf8_are_errors() {
        let params = Params::from_urlencoded(b"a=1&a=2").unwrap();
        assert_eq!(params.get("a"), Err(ParamError::Repeated("a".into())));
        assert_eq!(
            Params::from_urlencoded(b"a=%FF").unwrap_err(),
            ParamError::InvalidUtf8
        );
        assert_eq!(
            Params::from_urlencoded(b"a=\xff").unwrap_err(),
            ParamError::InvalidUtf8
        );
    }

    #[test]
    fn too_many_parameters_are_refused() {
        let body = (0..=MAX_PARAMS)
            .map(|i| format!("p{i}=1"))
            .collect::<Vec<_>>()
            .join("&");
        assert_eq!(
            Params::from_urlencoded(body.as_bytes()).unwrap_err(),
            ParamError::TooMany
        );
    }

    #[test]
    fn json_objects_become_parameters() {
        let params = Params::from_json(br#"{"a":"x","n":5,"t":true,"o":{"z":1}}"#).unwrap();
        assert_eq!(params.get("a").unwrap(), Some("x"));
        assert_eq!(params.get("n").unwrap(), Some("5"));
        assert_eq!(params.get("t").unwrap(), Some("true"));
        assert_eq!(params.get("o").unwrap(), None);
        assert_eq!(
            Params::from_json(b"[1]").unwrap_err(),
            ParamError::InvalidJson
        );
    }
}
