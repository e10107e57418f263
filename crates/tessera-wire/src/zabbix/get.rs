//! The common parameters of Zabbix's `*.get` methods (output, countOutput, filter, search,
//! searchByAny, startSearch, excludeSearch, searchWildcardsEnabled, sortfield, sortorder,
//! limit, preservekeys), checked with Zabbix's messages and turned into a core search.
//! Also the small value readers the other methods share.

use super::ZabbixError;
use serde_json::{Map, Value};
use tessera_core::{FieldValue, SortOrder, TokenField, TokenSearch, TokenStatus};

/// Zabbix's timestamps fit a signed 32-bit column.
pub const MAX_TIMESTAMP: i64 = 2_147_483_647;

/// The token fields `token.get` knows, in the order Zabbix prints them.
pub const TOKEN_FIELDS: [&str; 9] = [
    "tokenid",
    "name",
    "description",
    "userid",
    "lastaccess",
    "status",
    "expires_at",
    "created_at",
    "creator_userid",
];

const SORT_FIELDS: [&str; 6] = [
    "tokenid",
    "name",
    "lastaccess",
    "status",
    "expires_at",
    "created_at",
];

const GET_PARAMETERS: [&str; 17] = [
    "tokenids",
    "userids",
    "token",
    "valid_at",
    "expired_at",
    "output",
    "countOutput",
    "filter",
    "search",
    "searchByAny",
    "startSearch",
    "excludeSearch",
    "searchWildcardsEnabled",
    "sortfield",
    "sortorder",
    "limit",
    "preservekeys",
];

fn one_of(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|v| format!("\"{v}\"")).collect();
    format!("value must be one of {}", quoted.join(", "))
}

/// The params object, refusing parameters the method does not know.
pub fn object<'a>(
    params: &'a Value,
    known: &[&str],
) -> Result<&'a Map<String, Value>, ZabbixError> {
    let Value::Object(map) = params else {
        return Err(ZabbixError::parameter("/", "an array is not expected"));
    };
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ZabbixError::parameter(
            "/",
            &format!("unexpected parameter \"{unknown}\""),
        ));
    }
    Ok(map)
}

/// A flag as Zabbix reads `countOutput`: absent, null or false is off; any other value is on.
pub fn flag(map: &Map<String, Value>, name: &str) -> Result<bool, ZabbixError> {
    Ok(!matches!(
        map.get(name),
        None | Some(Value::Null) | Some(Value::Bool(false))
    ))
}

/// A strict boolean, as Zabbix reads `preservekeys`, `searchByAny` and the other switches.
pub fn boolean(map: &Map<String, Value>, name: &str) -> Result<bool, ZabbixError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ZabbixError::parameter(
            &format!("/{name}"),
            "a boolean is expected",
        )),
    }
}

/// Methods that take no parameters: an empty object or array.
pub fn no_params(params: &Value) -> Result<(), ZabbixError> {
    let empty = match params {
        Value::Object(map) => map.is_empty(),
        Value::Array(items) => items.is_empty(),
        _ => false,
    };
    if empty {
        Ok(())
    } else {
        Err(ZabbixError::parameter("/", "should be empty"))
    }
}

/// A `*.get`'s params: an object, or an (empty) array read as an empty object.
pub fn get_object<'a>(
    params: &'a Value,
    known: &[&str],
) -> Result<std::borrow::Cow<'a, Map<String, Value>>, ZabbixError> {
    match params {
        Value::Array(items) if items.is_empty() => Ok(std::borrow::Cow::Owned(Map::new())),
        Value::Array(_) => Err(ZabbixError::parameter("/", "unexpected parameter \"0\"")),
        other => object(other, known).map(std::borrow::Cow::Borrowed),
    }
}

/// Zabbix's answer to a list that names one value twice.
pub fn repeated(path: &str, value: &str) -> ZabbixError {
    ZabbixError::parameter(path, &format!("value ({value}) already exists"))
}

/// An id: a number or a string of digits.
pub fn id(value: &Value, path: &str) -> Result<i64, ZabbixError> {
    let parsed = match value {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        Value::Number(n) => n.as_i64().filter(|n| *n >= 0),
        _ => None,
    };
    parsed.ok_or_else(|| ZabbixError::parameter(path, "a number is expected"))
}

/// One id or an array of them (Zabbix's "string/array").
pub fn ids(map: &Map<String, Value>, name: &str) -> Result<Option<Vec<i64>>, ZabbixError> {
    match map.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| id(v, &format!("/{name}/{}", i + 1)))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(single) => Ok(Some(vec![id(single, &format!("/{name}"))?])),
    }
}

/// A Unix timestamp, as a number or a string of digits.
pub fn timestamp(value: &Value, path: &str) -> Result<i64, ZabbixError> {
    let seconds = match value {
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().ok()
        }
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    match seconds {
        Some(s) if (0..=MAX_TIMESTAMP).contains(&s) => Ok(s),
        Some(_) => Err(ZabbixError::parameter(path, "a number is too large")),
        None => Err(ZabbixError::parameter(path, "an integer is expected")),
    }
}

pub fn string<'a>(value: &'a Value, path: &str) -> Result<&'a str, ZabbixError> {
    value
        .as_str()
        .ok_or_else(|| ZabbixError::parameter(path, "a character string is expected"))
}

/// What a `*.get` asked to be printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Output {
    Fields(Vec<&'static str>),
    Count,
}

pub struct TokenGet {
    pub search: TokenSearch,
    pub output: Output,
    pub preserve_keys: bool,
    /// The secret to look for (`token`), hashed by the caller.
    pub secret: Option<String>,
}

fn field(name: &str) -> Option<TokenField> {
    Some(match name {
        "tokenid" => TokenField::Id,
        "name" => TokenField::Name,
        "description" => TokenField::Description,
        "userid" => TokenField::UserId,
        "lastaccess" => TokenField::LastAccess,
        "status" => TokenField::Status,
        "expires_at" => TokenField::ExpiresAt,
        "created_at" => TokenField::CreatedAt,
        "creator_userid" => TokenField::CreatorId,
        _ => return None,
    })
}

fn static_name(name: &str, within: &'static [&'static str]) -> Option<&'static str> {
    within.iter().copied().find(|f| *f == name)
}

/// Reads `token.get`'s parameters.
pub fn token_get(params: &Value) -> Result<TokenGet, ZabbixError> {
    let map = get_object(params, &GET_PARAMETERS)?;
    let map = map.as_ref();
    let mut search = TokenSearch {
        ids: ids(map, "tokenids")?,
        user_ids: ids(map, "userids")?,
        ..TokenSearch::default()
    };
    let secret = match map.get("token") {
        None | Some(Value::Null) => None,
        Some(value) => Some(string(value, "/token")?.to_owned()),
    };
    for (name, slot) in [
        ("valid_at", &mut search.valid_at),
        ("expired_at", &mut search.expired_at),
    ] {
        if let Some(value) = map.get(name).filter(|v| !v.is_null()) {
            let seconds = timestamp(value, &format!("/{name}"))?;
            *slot = time::OffsetDateTime::from_unix_timestamp(seconds).ok();
        }
    }
    search.filter = filter(map)?;
    search.search = text_search(map)?;
    search.search_mode.any_field = boolean(map, "searchByAny")?;
    search.search_mode.at_start = boolean(map, "startSearch")?;
    // Zabbix 6.0 accepts excludeSearch but ignores it (CApiService builds the NOT and never
    // uses it); clients written against it get what they got there.
    boolean(map, "excludeSearch")?;
    search.search_mode.wildcards = boolean(map, "searchWildcardsEnabled")?;
    search.sort = sort(map)?;
    search.limit = match map.get("limit") {
        None | Some(Value::Null) => None,
        Some(value) => {
            let limit = match value {
                Value::Number(n) => n.as_i64(),
                Value::String(s) => s.parse().ok(),
                _ => None,
            };
            match limit {
                Some(l) if (1..=i64::from(i32::MAX)).contains(&l) => Some(l as u32),
                Some(_) => {
                    return Err(ZabbixError::parameter(
                        "/limit",
                        "value must be one of 1-2147483647",
                    ))
                }
                None => return Err(ZabbixError::parameter("/limit", "an integer is expected")),
            }
        }
    };
    let output = if flag(map, "countOutput")? {
        Output::Count
    } else {
        output(map.get("output"))?
    };
    Ok(TokenGet {
        search,
        output,
        preserve_keys: boolean(map, "preservekeys")?,
        secret,
    })
}

fn output(value: Option<&Value>) -> Result<Output, ZabbixError> {
    match value {
        None | Some(Value::Null) => Ok(Output::Fields(TOKEN_FIELDS.to_vec())),
        Some(Value::String(s)) if s == "extend" => Ok(Output::Fields(TOKEN_FIELDS.to_vec())),
        Some(Value::Array(items)) => {
            let mut fields = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let path = format!("/output/{}", i + 1);
                let name = string(item, &path)?;
                let name = static_name(name, &TOKEN_FIELDS)
                    .ok_or_else(|| ZabbixError::parameter(&path, &one_of(&TOKEN_FIELDS)))?;
                if !fields.contains(&name) {
                    fields.push(name);
                }
            }
            Ok(Output::Fields(fields))
        }
        Some(Value::String(_)) => Err(ZabbixError::parameter(
            "/output",
            "value must be \"extend\"",
        )),
        Some(_) => Err(ZabbixError::parameter(
            "/output",
            "an array or a character string is expected",
        )),
    }
}

fn filter(map: &Map<String, Value>) -> Result<Vec<(TokenField, Vec<FieldValue>)>, ZabbixError> {
    let Some(value) = map.get("filter").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Value::Object(filter) = value else {
        return Err(ZabbixError::parameter("/filter", "an array is expected"));
    };
    let mut fields = Vec::new();
    for (name, wanted) in filter {
        let Some(token_field) = field(name).filter(|f| *f != TokenField::Description) else {
            return Err(ZabbixError::parameter(
                "/filter",
                &format!("unexpected parameter \"{name}\""),
            ));
        };
        let items: Vec<&Value> = match wanted {
            // An empty list filters nothing, as in Zabbix.
            Value::Array(items) if items.is_empty() => continue,
            Value::Array(items) => items.iter().collect(),
            Value::Null => continue,
            single => vec![single],
        };
        let mut values = Vec::new();
        for (i, item) in items.into_iter().enumerate() {
            let path = format!("/filter/{name}/{}", i + 1);
            let text = match item {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => {
                    return Err(ZabbixError::parameter(
                        &path,
                        "a character string is expected",
                    ))
                }
            };
            values.push(match token_field {
                TokenField::Name | TokenField::Description => FieldValue::Text(text),
                TokenField::Status => match text.as_str() {
                    "0" => FieldValue::Status(TokenStatus::Active),
                    "1" => FieldValue::Status(TokenStatus::Disabled),
                    // No token has another status: match nothing, as Zabbix's SQL would.
                    _ => FieldValue::Integer(-1),
                },
                _ => match text.parse::<i64>() {
                    Ok(number) => FieldValue::Integer(number),
                    Err(_) => FieldValue::Integer(-1),
                },
            });
        }
        fields.push((token_field, values));
    }
    Ok(fields)
}

fn text_search(map: &Map<String, Value>) -> Result<Vec<(TokenField, Vec<String>)>, ZabbixError> {
    let Some(value) = map.get("search").filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let Value::Object(search) = value else {
        return Err(ZabbixError::parameter("/search", "an array is expected"));
    };
    let mut fields = Vec::new();
    for (name, terms) in search {
        let token_field = match name.as_str() {
            "name" => TokenField::Name,
            "description" => TokenField::Description,
            other => {
                return Err(ZabbixError::parameter(
                    "/search",
                    &format!("unexpected parameter \"{other}\""),
                ))
            }
        };
        let terms: Vec<String> = match terms {
            Value::Null => continue,
            Value::String(s) => vec![s.clone()],
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, v)| string(v, &format!("/search/{name}/{}", i + 1)).map(str::to_owned))
                .collect::<Result<_, _>>()?,
            _ => {
                return Err(ZabbixError::parameter(
                    &format!("/search/{name}"),
                    "a character string is expected",
                ))
            }
        };
        fields.push((token_field, terms));
    }
    Ok(fields)
}

fn sort(map: &Map<String, Value>) -> Result<Vec<(TokenField, SortOrder)>, ZabbixError> {
    let names: Vec<&Value> = match map.get("sortfield") {
        None | Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(single) => vec![single],
    };
    let mut fields = Vec::new();
    for (i, name) in names.into_iter().enumerate() {
        let path = format!("/sortfield/{}", i + 1);
        let name = string(name, &path)?;
        let token_field = static_name(name, &SORT_FIELDS)
            .and_then(field)
            .ok_or_else(|| ZabbixError::parameter(&path, &one_of(&SORT_FIELDS)))?;
        if fields.contains(&token_field) {
            return Err(repeated(&path, name));
        }
        fields.push(token_field);
    }
    let orders: Vec<SortOrder> = match map.get("sortorder") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, v)| order(v, &format!("/sortorder/{}", i + 1)))
            .collect::<Result<_, _>>()?,
        Some(single) => {
            let order = order(single, "/sortorder")?;
            vec![order; fields.len()]
        }
    };
    Ok(fields
        .into_iter()
        .enumerate()
        .map(|(i, f)| (f, orders.get(i).copied().unwrap_or_default()))
        .collect())
}

fn order(value: &Value, path: &str) -> Result<SortOrder, ZabbixError> {
    match value.as_str() {
        Some("ASC") => Ok(SortOrder::Ascending),
        Some("DESC") => Ok(SortOrder::Descending),
        _ => Err(ZabbixError::parameter(
            path,
            "value must be one of \"ASC\", \"DESC\"",
        )),
    }
}
