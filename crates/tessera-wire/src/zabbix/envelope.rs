//! One JSON-RPC 2.0 request object, checked in the order Zabbix checks it.

use super::ZabbixError;
use serde_json::Value;

/// A request's method, its params and its `auth` field (Zabbix up to 6.x authenticates by it).
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    pub method: String,
    pub params: Value,
    pub auth: Option<String>,
}

/// Reads one request object; the error is what Zabbix answers for the first thing wrong.
pub fn envelope(request: Value) -> Result<Envelope, ZabbixError> {
    let invalid = |path: &str, problem: &str| {
        ZabbixError::invalid_request(format!("Invalid parameter \"{path}\": {problem}."))
    };
    let Value::Object(mut object) = request else {
        return Err(invalid("/", "an array is expected"));
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| !["jsonrpc", "method", "params", "auth", "id"].contains(&k.as_str()))
    {
        return Err(invalid("/", &format!("unexpected parameter \"{unknown}\"")));
    }
    match object.get("jsonrpc") {
        None => return Err(invalid("/", "the parameter \"jsonrpc\" is missing")),
        Some(Value::String(v)) if v == "2.0" => {}
        Some(Value::String(_)) => return Err(invalid("/jsonrpc", "value must be \"2.0\"")),
        Some(_) => return Err(invalid("/jsonrpc", "a character string is expected")),
    }
    let method = match object.remove("method") {
        Some(Value::String(method)) => method,
        Some(_) => return Err(invalid("/method", "a character string is expected")),
        None => return Err(invalid("/", "the parameter \"method\" is missing")),
    };
    let params = match object.remove("params") {
        Some(params @ (Value::Object(_) | Value::Array(_))) => params,
        Some(_) => return Err(invalid("/params", "an array or object is expected")),
        None => return Err(invalid("/", "the parameter \"params\" is missing")),
    };
    let auth = match object.remove("auth") {
        None | Some(Value::Null) => None,
        Some(Value::String(auth)) if auth.is_empty() => {
            return Err(invalid("/auth", "cannot be empty"))
        }
        Some(Value::String(auth)) => Some(auth),
        Some(_) => return Err(invalid("/auth", "a character string is expected")),
    };
    if let Some(id) = object.get("id") {
        if !matches!(id, Value::String(_) | Value::Number(_) | Value::Null) {
            return Err(invalid("/id", "a string, number or null value is expected"));
        }
    }
    Ok(Envelope {
        method,
        params,
        auth,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_well_formed_request_is_taken_apart() {
        let request =
            json!({"jsonrpc": "2.0", "method": "token.get", "params": {}, "auth": "a", "id": 1});
        assert_eq!(
            envelope(request).unwrap(),
            Envelope {
                method: "token.get".into(),
                params: json!({}),
                auth: Some("a".into())
            }
        );
    }

    #[test]
    fn the_first_problem_is_named_as_zabbix_names_it() {
        let data = |request: Value| envelope(request).unwrap_err().data;
        assert_eq!(
            data(json!({"jsonrpc": "2.0", "params": {}, "x": 1})),
            "Invalid parameter \"/\": unexpected parameter \"x\"."
        );
        assert_eq!(
            data(json!({"jsonrpc": "1.0", "method": "a.b", "params": {}})),
            "Invalid parameter \"/jsonrpc\": value must be \"2.0\"."
        );
        assert_eq!(
            data(json!({"jsonrpc": "2.0", "method": "a.b", "params": 1})),
            "Invalid parameter \"/params\": an array or object is expected."
        );
        assert_eq!(
            data(json!({"jsonrpc": "2.0", "method": "a.b", "params": [], "auth": ""})),
            "Invalid parameter \"/auth\": cannot be empty."
        );
        assert_eq!(
            data(json!({"jsonrpc": "2.0", "method": "a.b", "params": [], "id": []})),
            "Invalid parameter \"/id\": a string, number or null value is expected."
        );
    }
}
