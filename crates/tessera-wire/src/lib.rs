//! What arrives on the wire, read strictly, before the core sees any of it: request parameters
//! (query strings, urlencoded and JSON bodies), the `Authorization` header, and Zabbix's
//! JSON-RPC envelope with the parameters of its `*.get` methods.
//!
//! These are the parsers that take a stranger's bytes. They live apart from the HTTP server
//! so that they can be fuzzed (`fuzz/`) without building axum, TLS or SQL, and they answer
//! bad input with errors, never panics.

#![forbid(unsafe_code)]

pub mod authorization;
pub mod params;
pub mod zabbix;
