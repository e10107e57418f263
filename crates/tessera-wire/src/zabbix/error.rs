//! Zabbix's JSON-RPC errors: a code, a fixed message per code, and a `data` sentence.

use serde_json::{json, Value};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZabbixError {
    pub code: i64,
    pub message: &'static str,
    pub data: String,
}

impl ZabbixError {
    pub fn parse_error() -> Self {
        Self {
            code: -32700,
            message: "Parse error",
            data: "Invalid JSON. An error occurred on the server while parsing the JSON text."
                .into(),
        }
    }

    pub fn invalid_request(data: impl Into<String>) -> Self {
        Self {
            code: -32600,
            message: "Invalid request.",
            data: data.into(),
        }
    }

    pub fn method_not_found(data: impl Into<String>) -> Self {
        Self {
            code: -32601,
            message: "Method not found.",
            data: data.into(),
        }
    }

    pub fn invalid_params(data: impl Into<String>) -> Self {
        Self {
            code: -32602,
            message: "Invalid params.",
            data: data.into(),
        }
    }

    pub fn application(data: impl Into<String>) -> Self {
        Self {
            code: -32500,
            message: "Application error.",
            data: data.into(),
        }
    }

    /// `Invalid parameter "/1/name": cannot be empty.`
    pub fn parameter(path: &str, problem: &str) -> Self {
        Self::invalid_params(format!("Invalid parameter \"{path}\": {problem}."))
    }

    pub fn not_authorized() -> Self {
        Self::invalid_params("Not authorized.")
    }

    pub fn session_terminated() -> Self {
        Self::invalid_params("Session terminated, re-login, please.")
    }

    /// Zabbix answers an unknown user name with -32602 and a wrong password with -32500; that
    /// tells an attacker which names exist, so tessera answers both like a wrong password.
    pub fn wrong_credentials() -> Self {
        Self::application("Incorrect user name or password or account is temporarily blocked.")
    }

    pub fn no_permissions() -> Self {
        Self::application("No permissions to referred object or it does not exist!")
    }

    pub fn unavailable() -> Self {
        Self::application("The service is unavailable, try again later.")
    }

    pub fn to_json(&self) -> Value {
        json!({ "code": self.code, "message": self.message, "data": self.data })
    }
}
