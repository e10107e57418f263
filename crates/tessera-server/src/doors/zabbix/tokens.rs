//! `token.create`, `token.get`, `token.update`, `token.delete`, `token.generate`: API tokens as
//! Zabbix manages them, over the core's managed API tokens.

use super::get::{self, id, repeated, string, Output, MAX_TIMESTAMP};
use super::{core_error, Call, MethodResult, ZabbixError};
use serde_json::{json, Map, Value};
use tessera_core::{CoreError, NewApiToken, Token, TokenChanges, TokenSecret, TokenStatus};
use time::OffsetDateTime;

pub async fn call(call: &Call<'_>, action: &str) -> MethodResult {
    match action {
        "create" => create(call).await,
        "get" => get(call).await,
        "update" => update(call).await,
        "delete" => delete(call).await,
        _ => generate(call).await,
    }
}

fn status(value: &Value, path: &str) -> Result<TokenStatus, ZabbixError> {
    match value {
        Value::String(s) if s == "0" => Ok(TokenStatus::Active),
        Value::String(s) if s == "1" => Ok(TokenStatus::Disabled),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(TokenStatus::Active),
        Value::Number(n) if n.as_i64() == Some(1) => Ok(TokenStatus::Disabled),
        _ => Err(ZabbixError::parameter(path, "value must be one of 0, 1")),
    }
}

/// `expires_at`: a Unix time, 0 for never. Zabbix stores any 32-bit integer, past ones too.
fn expiry(value: &Value, path: &str) -> Result<Option<OffsetDateTime>, ZabbixError> {
    let seconds = match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse::<i64>().ok(),
        _ => None,
    }
    .ok_or_else(|| ZabbixError::parameter(path, "an integer is expected"))?;
    if !(-MAX_TIMESTAMP - 1..=MAX_TIMESTAMP).contains(&seconds) {
        return Err(ZabbixError::parameter(path, "a number is too large"));
    }
    match seconds {
        0 => Ok(None),
        seconds => Ok(OffsetDateTime::from_unix_timestamp(seconds).ok()),
    }
}

/// One object, or a non-empty array of them (`token.create`, `token.update`).
fn non_empty_objects(params: &Value) -> Result<Vec<&Value>, ZabbixError> {
    let items = super::objects(params);
    if matches!(params, Value::Array(a) if a.is_empty()) {
        return Err(ZabbixError::parameter("/", "cannot be empty"));
    }
    Ok(items)
}

/// Zabbix's sentence for a name that an existing token of the same user already has: the
/// first such token by id, as its SQL finds it.
async fn name_taken(call: &Call<'_>, wanted: &[(i64, String)]) -> Result<(), ZabbixError> {
    let actor = call.user()?;
    for user_id in wanted
        .iter()
        .map(|(u, _)| *u)
        .collect::<std::collections::BTreeSet<_>>()
    {
        let names: Vec<tessera_core::FieldValue> = wanted
            .iter()
            .filter(|(u, _)| *u == user_id)
            .map(|(_, n)| tessera_core::FieldValue::Text(n.clone()))
            .collect();
        let search = tessera_core::TokenSearch {
            user_ids: Some(vec![user_id]),
            filter: vec![(tessera_core::TokenField::Name, names)],
            limit: Some(1),
            ..tessera_core::TokenSearch::default()
        };
        let found = call
            .state
            .authority
            .search_api_tokens(actor, search)
            .await
            .map_err(core_error)?;
        if let Some(token) = found.first() {
            return Err(ZabbixError::invalid_params(format!(
                "API token \"{}\" already exists for userid \"{user_id}\".",
                token.name
            )));
        }
    }
    Ok(())
}

fn text(map: &Map<String, Value>, name: &str, path: &str) -> Result<Option<String>, ZabbixError> {
    map.get(name)
        .map(|v| string(v, &format!("{path}/{name}")).map(str::to_owned))
        .transpose()
}

fn checked_name(name: String, path: &str) -> Result<String, ZabbixError> {
    if name.is_empty() {
        return Err(ZabbixError::parameter(
            &format!("{path}/name"),
            "cannot be empty",
        ));
    }
    if name.chars().count() > tessera_core::authority::MAX_NAME_CHARS {
        return Err(ZabbixError::parameter(
            &format!("{path}/name"),
            "value is too long",
        ));
    }
    Ok(name)
}

async fn create(call: &Call<'_>) -> MethodResult {
    let actor = call.user()?;
    let mut tokens: Vec<NewApiToken> = Vec::new();
    for (i, item) in non_empty_objects(&call.params)?.into_iter().enumerate() {
        let path = format!("/{}", i + 1);
        let Value::Object(map) = item else {
            return Err(ZabbixError::parameter(&path, "an array is expected"));
        };
        if let Some(unknown) = map.keys().find(|k| {
            !["name", "description", "userid", "status", "expires_at"].contains(&k.as_str())
        }) {
            return Err(ZabbixError::parameter(
                &path,
                &format!("unexpected parameter \"{unknown}\""),
            ));
        }
        let name = text(map, "name", &path)?
            .ok_or_else(|| ZabbixError::parameter(&path, "the parameter \"name\" is missing"))?;
        tokens.push(NewApiToken {
            name: checked_name(name, &path)?,
            description: text(map, "description", &path)?.unwrap_or_default(),
            user_id: map
                .get("userid")
                .map(|v| id(v, &format!("{path}/userid")))
                .transpose()?
                .unwrap_or(actor.id),
            status: map
                .get("status")
                .map(|v| status(v, &format!("{path}/status")))
                .transpose()?
                .unwrap_or(TokenStatus::Active),
            expires_at: match map.get("expires_at") {
                Some(v) => expiry(v, &format!("{path}/expires_at"))?,
                None => None,
            },
        });
    }
    let authority = &call.state.authority;
    for (i, token) in tokens.iter().enumerate() {
        // Another user's token needs a super admin, and the user must exist; Zabbix says both
        // the same way, so nobody learns which user ids exist.
        let allowed = token.user_id == actor.id
            || (actor.role == tessera_core::Role::SuperAdmin
                && authority.user(token.user_id).await.is_ok());
        if !allowed {
            return Err(ZabbixError::invalid_params(format!(
                "User with ID \"{}\" is not available.",
                token.user_id
            )));
        }
        if tokens[..i]
            .iter()
            .any(|t| t.user_id == token.user_id && t.name == token.name)
        {
            return Err(ZabbixError::parameter(
                &format!("/{}", i + 1),
                &format!(
                    "value (userid, name)=({}, {}) already exists",
                    token.user_id, token.name
                ),
            ));
        }
    }
    let wanted: Vec<(i64, String)> = tokens.iter().map(|t| (t.user_id, t.name.clone())).collect();
    name_taken(call, &wanted).await?;
    match authority
        .create_api_tokens(actor, tokens, &call.origin)
        .await
    {
        Ok(created) => {
            Ok(json!({ "tokenids": created.iter().map(|t| t.id.to_string()).collect::<Vec<_>>() }))
        }
        Err(CoreError::Conflict(_)) => {
            name_taken(call, &wanted).await?;
            Err(ZabbixError::invalid_params("API token already exists."))
        }
        Err(error) => Err(core_error(error)),
    }
}

fn seconds(at: Option<OffsetDateTime>) -> String {
    at.map_or_else(|| "0".to_owned(), |t| t.unix_timestamp().to_string())
}

/// A token as `token.get` prints it: every value a string, the id first when asked for, the
/// other fields in the order asked. No field at all is PHP's empty array, `[]`.
fn token_object(token: &Token, fields: &[&str]) -> Value {
    if fields.is_empty() {
        return Value::Array(Vec::new());
    }
    let mut object = Map::new();
    let id_first = fields.iter().filter(|f| **f == "tokenid");
    for field in id_first.chain(fields.iter().filter(|f| **f != "tokenid")) {
        let value = match *field {
            "tokenid" => token.id.to_string(),
            "name" => token.name.clone(),
            "description" => token.description.clone(),
            "userid" => token.user_id.unwrap_or(0).to_string(),
            "lastaccess" => seconds(token.last_access),
            "status" => if token.status == TokenStatus::Disabled {
                "1"
            } else {
                "0"
            }
            .to_owned(),
            "expires_at" => seconds(token.expires_at),
            "created_at" => token.created_at.unix_timestamp().to_string(),
            _ => token.creator_id.unwrap_or(0).to_string(),
        };
        object.insert((*field).to_owned(), Value::String(value));
    }
    Value::Object(object)
}

async fn get(call: &Call<'_>) -> MethodResult {
    let actor = call.user()?;
    let mut request = get::token_get(&call.params)?;
    if let Some(secret) = &request.secret {
        request.search.hash = Some(TokenSecret::from_presented(secret.as_str()).hash());
    }
    let authority = &call.state.authority;
    let fields = match request.output {
        Output::Count => {
            let count = authority
                .count_api_tokens(actor, request.search)
                .await
                .map_err(core_error)?;
            return Ok(Value::String(count.to_string()));
        }
        Output::Fields(fields) => fields,
    };
    let tokens = authority
        .search_api_tokens(actor, request.search)
        .await
        .map_err(core_error)?;
    if request.preserve_keys && !tokens.is_empty() {
        let keyed: Map<String, Value> = tokens
            .iter()
            .map(|t| (t.id.to_string(), token_object(t, &fields)))
            .collect();
        return Ok(Value::Object(keyed));
    }
    Ok(Value::Array(
        tokens.iter().map(|t| token_object(t, &fields)).collect(),
    ))
}

async fn update(call: &Call<'_>) -> MethodResult {
    let actor = call.user()?;
    let mut updates: Vec<(i64, TokenChanges)> = Vec::new();
    for (i, item) in non_empty_objects(&call.params)?.into_iter().enumerate() {
        let path = format!("/{}", i + 1);
        let Value::Object(map) = item else {
            return Err(ZabbixError::parameter(&path, "an array is expected"));
        };
        if let Some(unknown) = map.keys().find(|k| {
            !["tokenid", "name", "description", "status", "expires_at"].contains(&k.as_str())
        }) {
            return Err(ZabbixError::parameter(
                &path,
                &format!("unexpected parameter \"{unknown}\""),
            ));
        }
        let token_id = map
            .get("tokenid")
            .ok_or_else(|| ZabbixError::parameter(&path, "the parameter \"tokenid\" is missing"))
            .and_then(|v| id(v, &format!("{path}/tokenid")))?;
        let changes = TokenChanges {
            name: text(map, "name", &path)?
                .map(|n| checked_name(n, &path))
                .transpose()?,
            description: text(map, "description", &path)?,
            status: map
                .get("status")
                .map(|v| status(v, &format!("{path}/status")))
                .transpose()?,
            expires_at: map
                .get("expires_at")
                .map(|v| expiry(v, &format!("{path}/expires_at")))
                .transpose()?,
        };
        if updates.iter().any(|(id, _)| *id == token_id) {
            return Err(ZabbixError::parameter(
                &path,
                &format!("value (tokenid)=({token_id}) already exists"),
            ));
        }
        updates.push((token_id, changes));
    }
    // Every check before any change: Zabbix updates all or nothing.
    let authority = &call.state.authority;
    let mut renames: Vec<(i64, String)> = Vec::new();
    for (i, (token_id, changes)) in updates.iter().enumerate() {
        let current = authority
            .token(*token_id)
            .await
            .ok()
            .filter(|t| t.kind == tessera_core::TokenKind::Api);
        let visible = current.as_ref().is_some_and(|t| {
            t.user_id == Some(actor.id) || actor.role == tessera_core::Role::SuperAdmin
        });
        let Some(current) = current.filter(|_| visible) else {
            return Err(ZabbixError::no_permissions());
        };
        let owner = current.user_id.unwrap_or(actor.id);
        if let Some(name) = changes.name.as_ref().filter(|n| **n != current.name) {
            if renames.contains(&(owner, name.clone())) {
                return Err(ZabbixError::parameter(
                    &format!("/{}", i + 1),
                    &format!("value (userid, name)=({owner}, {name}) already exists"),
                ));
            }
            renames.push((owner, name.clone()));
        }
    }
    name_taken(call, &renames).await?;
    let mut updated = Vec::with_capacity(updates.len());
    for (token_id, changes) in updates {
        let token = authority
            .update_api_token(actor, token_id, changes, &call.origin)
            .await
            .map_err(core_error)?;
        updated.push(token.id.to_string());
    }
    Ok(json!({ "tokenids": updated }))
}

/// The ids of `token.delete` and `token.generate`: a non-empty array of distinct ids (an
/// object's values count as the array, as PHP reads them).
fn id_list(params: &Value) -> Result<Vec<i64>, ZabbixError> {
    let items: Vec<&Value> = match params {
        Value::Array(items) => items.iter().collect(),
        Value::Object(map) => map.values().collect(),
        _ => return Err(ZabbixError::parameter("/", "an array is expected")),
    };
    if items.is_empty() {
        return Err(ZabbixError::parameter("/", "cannot be empty"));
    }
    let mut ids = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        let path = format!("/{}", i + 1);
        let token_id = id(item, &path)?;
        if ids.contains(&token_id) {
            return Err(repeated(&path, &token_id.to_string()));
        }
        ids.push(token_id);
    }
    Ok(ids)
}

async fn delete(call: &Call<'_>) -> MethodResult {
    let actor = call.user()?;
    let ids = id_list(&call.params)?;
    let deleted = call
        .state
        .authority
        .delete_api_tokens(actor, &ids, &call.origin)
        .await
        .map_err(core_error)?;
    Ok(json!({ "tokenids": deleted.iter().map(|id| id.to_string()).collect::<Vec<_>>() }))
}

async fn generate(call: &Call<'_>) -> MethodResult {
    let actor = call.user()?;
    let ids = id_list(&call.params)?;
    let generated = call
        .state
        .authority
        .generate_api_token_secrets(actor, &ids, &call.origin)
        .await
        .map_err(core_error)?;
    Ok(Value::Array(
        generated
            .iter()
            .map(|(token, secret)| json!({ "tokenid": token.id.to_string(), "token": secret.expose() }))
            .collect(),
    ))
}
