//! `user.login`, `user.logout`, `user.checkAuthentication`, and `user.get/create/update/delete`
//! as far as tokens need them. Zabbix's roles map onto tessera's: roleid 1 User, 2 Admin,
//! 3 Super admin (4, Guest, is a User here).

use super::get::{boolean, flag, get_object, id, ids, no_params, object, string};
use super::{core_error, Call, MethodResult, ZabbixError};
use serde_json::{json, Map, Value};
use tessera_core::{Password, Role, TokenSecret, User, Username};

pub async fn call(call: &Call<'_>, action: &str) -> MethodResult {
    match action {
        "login" => login(call).await,
        "logout" => logout(call).await,
        "checkauthentication" => check_authentication(call).await,
        "get" => get(call).await,
        "create" => create(call).await,
        "update" => update(call).await,
        "unblock" => unblock(call).await,
        _ => delete(call).await,
    }
}

fn role_id(role: Role) -> &'static str {
    match role {
        Role::User => "1",
        Role::Admin => "2",
        Role::SuperAdmin => "3",
    }
}

fn role_of(value: &Value, path: &str) -> Result<Role, ZabbixError> {
    match id(value, path)? {
        1 | 4 => Ok(Role::User),
        2 => Ok(Role::Admin),
        3 => Ok(Role::SuperAdmin),
        other => Err(ZabbixError::invalid_params(format!(
            "User role with ID \"{other}\" is not available."
        ))),
    }
}

/// Zabbix's default password policy: at least 8 characters.
fn policy_password(value: &Value, path: &str) -> Result<Password, ZabbixError> {
    let text = string(value, path)?;
    if text.chars().count() < 8 {
        return Err(ZabbixError::invalid_params(format!(
            "Incorrect value for field \"{path}\": must be at least 8 characters long."
        )));
    }
    Password::new(text).map_err(|_| ZabbixError::parameter(path, "value is too long"))
}

/// A user as Zabbix 6.0 prints one; tessera keeps the display name in `name`.
fn user_object(call: &Call<'_>, user: &User) -> Map<String, Value> {
    // Zabbix writes durations as 15m, 1h, 90s.
    let autologout = match call.state.zabbix.session_idle_timeout.map(|d| d.as_secs()) {
        None | Some(0) => "0".to_owned(),
        Some(s) if s % 3600 == 0 => format!("{}h", s / 3600),
        Some(s) if s % 60 == 0 => format!("{}m", s / 60),
        Some(s) => format!("{s}s"),
    };
    // The profile fields a new Zabbix user has; tessera keeps no per-user preferences.
    let fields = [
        ("userid", user.id.to_string()),
        ("username", user.username.clone()),
        ("name", user.display_name.clone()),
        ("surname", String::new()),
        ("url", String::new()),
        ("autologin", "0".to_owned()),
        ("autologout", autologout),
        ("lang", "default".to_owned()),
        ("refresh", "30s".to_owned()),
        ("theme", "default".to_owned()),
        ("attempt_failed", user.failed_sign_ins.count.to_string()),
        ("attempt_ip", user.failed_sign_ins.last_ip.clone()),
        (
            "attempt_clock",
            user.failed_sign_ins
                .last_at
                .map_or(0, |at| at.unix_timestamp())
                .to_string(),
        ),
        ("rows_per_page", "50".to_owned()),
        ("timezone", "default".to_owned()),
        ("roleid", role_id(user.role).to_owned()),
    ];
    fields
        .into_iter()
        .map(|(k, v)| (k.to_owned(), Value::String(v)))
        .collect()
}

/// `userData`'s extra fields and the session id (none when an API token asked).
fn session_data(call: &Call<'_>, user: &User, session: Option<&str>) -> Value {
    let mut object = user_object(call, user);
    let user_type = match user.role {
        Role::User => 1,
        Role::Admin => 2,
        Role::SuperAdmin => 3,
    };
    object.insert("type".into(), json!(user_type));
    object.insert(
        "userip".into(),
        json!(call
            .origin
            .source_ip
            .map(|ip| ip.to_string())
            .unwrap_or_default()),
    );
    object.insert("debug_mode".into(), json!(0));
    object.insert("gui_access".into(), json!(0));
    if let Some(session) = session {
        object.insert("sessionid".into(), json!(session));
    }
    Value::Object(object)
}

async fn login(call: &Call<'_>) -> MethodResult {
    let map = object(&call.params, &["username", "user", "password", "userData"])?;
    let username = match (map.get("username"), map.get("user")) {
        (Some(name), None) => string(name, "/username")?,
        (None, Some(name)) => string(name, "/user")?,
        (Some(_), Some(_)) => {
            return Err(ZabbixError::invalid_params(
                "Parameter \"user\" is deprecated.",
            ))
        }
        (None, None) => {
            return Err(ZabbixError::parameter(
                "/",
                "the parameter \"username\" is missing",
            ))
        }
    };
    let password = map
        .get("password")
        .ok_or_else(|| ZabbixError::parameter("/", "the parameter \"password\" is missing"))
        .and_then(|p| string(p, "/password"))?;
    let password = Password::new(password).map_err(|_| ZabbixError::wrong_credentials())?;
    let authority = &call.state.authority;
    let user = authority
        .authenticate_user(username, &password, &call.origin)
        .await
        .map_err(core_error)?;
    let session = authority
        .open_session(&user, call.state.zabbix.session_idle_timeout, &call.origin)
        .await
        .map_err(core_error)?;
    if boolean(map, "userData")? {
        return Ok(session_data(call, &user, Some(session.secret.expose())));
    }
    Ok(Value::String(session.secret.expose().to_owned()))
}

async fn logout(call: &Call<'_>) -> MethodResult {
    no_params(&call.params)?;
    let Some((_, secret)) = &call.caller else {
        return Err(ZabbixError::not_authorized());
    };
    call.state
        .authority
        .close_session(&TokenSecret::from_presented(secret.as_str()), &call.origin)
        .await
        .map_err(core_error)?;
    Ok(Value::Bool(true))
}

async fn check_authentication(call: &Call<'_>) -> MethodResult {
    let map = object(&call.params, &["sessionid", "token", "extend"])?;
    let expected = || ZabbixError::invalid_params("Session ID or token is expected.");
    match (map.get("sessionid"), map.get("token")) {
        (Some(session), None) => {
            let session = string(session, "/sessionid")?;
            let user = super::authenticate(call.state, session, &call.origin).await?;
            Ok(session_data(call, &user, Some(session)))
        }
        (None, Some(token)) => {
            object(&call.params, &["token"])?;
            let token = string(token, "/token")?;
            let user = super::authenticate(call.state, token, &call.origin).await?;
            Ok(session_data(call, &user, None))
        }
        _ => Err(expected()),
    }
}

const USER_FIELDS: [&str; 16] = [
    "userid",
    "username",
    "name",
    "surname",
    "url",
    "autologin",
    "autologout",
    "lang",
    "refresh",
    "theme",
    "attempt_failed",
    "attempt_ip",
    "attempt_clock",
    "rows_per_page",
    "timezone",
    "roleid",
];

async fn get(call: &Call<'_>) -> MethodResult {
    let actor = call.user()?;
    let map = get_object(
        &call.params,
        &[
            "userids",
            "output",
            "filter",
            "search",
            "preservekeys",
            "countOutput",
            "limit",
            "sortfield",
            "sortorder",
        ],
    )?;
    let map = map.as_ref();
    if map.get("filter").and_then(|f| f.get("passwd")).is_some() {
        return Err(ZabbixError::invalid_params(
            "It is not possible to filter by user password.",
        ));
    }
    let wanted_ids = ids(map, "userids")?;
    let searched: Option<String> = map
        .get("search")
        .and_then(|s| s.get("username"))
        .and_then(Value::as_str)
        .map(str::to_lowercase);
    let wanted_names: Option<Vec<String>> = match map.get("filter").and_then(|f| f.get("username"))
    {
        None => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect(),
        ),
        Some(Value::String(name)) => Some(vec![name.clone()]),
        Some(_) => Some(Vec::new()),
    };
    let fields: Vec<&str> = match map.get("output") {
        None | Some(Value::Null) => USER_FIELDS.to_vec(),
        Some(Value::String(s)) if s == "extend" => USER_FIELDS.to_vec(),
        Some(Value::Array(items)) => USER_FIELDS
            .iter()
            .copied()
            .filter(|f| items.iter().any(|i| i.as_str() == Some(f)))
            .collect(),
        Some(_) => return Err(ZabbixError::parameter("/output", "an array is expected")),
    };
    let users = call.state.authority.users().await.map_err(core_error)?;
    let visible: Vec<&User> = users
        .iter()
        .filter(|u| actor.role == Role::SuperAdmin || u.id == actor.id)
        .filter(|u| wanted_ids.as_ref().is_none_or(|ids| ids.contains(&u.id)))
        .filter(|u| {
            wanted_names
                .as_ref()
                .is_none_or(|names| names.contains(&u.username))
        })
        .filter(|u| {
            searched
                .as_ref()
                .is_none_or(|s| u.username.to_lowercase().contains(s.as_str()))
        })
        .collect();
    if flag(map, "countOutput")? {
        return Ok(Value::String(visible.len().to_string()));
    }
    let objects = visible.iter().map(|u| {
        let full = user_object(call, u);
        // Zabbix always prints the user's id, first.
        let picked: Map<String, Value> = std::iter::once(&"userid")
            .chain(fields.iter().filter(|f| **f != "userid"))
            .filter_map(|f| full.get(*f).map(|v| ((*f).to_owned(), v.clone())))
            .collect();
        (u.id.to_string(), Value::Object(picked))
    });
    if boolean(map, "preservekeys")? {
        return Ok(Value::Object(objects.collect()));
    }
    Ok(Value::Array(objects.map(|(_, v)| v).collect()))
}

fn display_name(map: &Map<String, Value>) -> Option<String> {
    let part = |key: &str| {
        map.get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let joined = [part("name"), part("surname")]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    (map.contains_key("name") || map.contains_key("surname")).then_some(joined)
}

const USER_PARAMETERS: [&str; 8] = [
    "userid", "username", "passwd", "roleid", "usrgrps", "name", "surname", "medias",
];

async fn create(call: &Call<'_>) -> MethodResult {
    let actor = call.user()?;
    let authority = &call.state.authority;
    authority
        .require_super_admin(actor)
        .map_err(|_| no_permission_to_call("user.create"))?;
    let mut created = Vec::new();
    for (i, item) in super::objects(&call.params).into_iter().enumerate() {
        let path = format!("/{}", i + 1);
        let map = object(item, &USER_PARAMETERS).map_err(|e| relocate(e, &path))?;
        // Zabbix requires user groups; tessera has none, so it takes them and keeps nothing.
        if !map.contains_key("usrgrps") {
            return Err(ZabbixError::parameter(
                &path,
                "the parameter \"usrgrps\" is missing",
            ));
        }
        let username = map
            .get("username")
            .ok_or_else(|| ZabbixError::parameter(&path, "the parameter \"username\" is missing"))
            .and_then(|v| string(v, &format!("{path}/username")))?;
        let username = Username::parse(username)
            .map_err(|_| ZabbixError::parameter(&format!("{path}/username"), "cannot be empty"))?;
        let password = map
            .get("passwd")
            .ok_or_else(|| ZabbixError::parameter(&path, "the parameter \"passwd\" is missing"))
            .and_then(|v| policy_password(v, &format!("{path}/passwd")))?;
        let role = match map.get("roleid") {
            Some(value) => role_of(value, &format!("{path}/roleid"))?,
            None => {
                return Err(ZabbixError::parameter(
                    &path,
                    "the parameter \"roleid\" is missing",
                ))
            }
        };
        let user = authority
            .create_user(
                username,
                display_name(map).unwrap_or_default(),
                role,
                Vec::new(),
                &password,
                &call.origin,
            )
            .await
            .map_err(|e| user_error(e, map))?;
        created.push(user.id.to_string());
    }
    Ok(json!({ "userids": created }))
}

async fn update(call: &Call<'_>) -> MethodResult {
    let actor = call.user()?;
    let authority = &call.state.authority;
    let mut updated = Vec::new();
    for (i, item) in super::objects(&call.params).into_iter().enumerate() {
        let path = format!("/{}", i + 1);
        let map = object(item, &USER_PARAMETERS).map_err(|e| relocate(e, &path))?;
        let user_id = map
            .get("userid")
            .ok_or_else(|| ZabbixError::parameter(&path, "the parameter \"userid\" is missing"))
            .and_then(|v| id(v, &format!("{path}/userid")))?;
        // A user may change their own password; everything else is a super admin's.
        let own_password_only = user_id == actor.id
            && map
                .keys()
                .all(|k| matches!(k.as_str(), "userid" | "passwd"));
        if !own_password_only {
            authority
                .require_super_admin(actor)
                .map_err(|_| no_permission_to_call("user.update"))?;
        }
        let user = authority.user(user_id).await.map_err(core_error)?;
        if let Some(password) = map.get("passwd") {
            let password = policy_password(password, &format!("{path}/passwd"))?;
            authority
                .set_password(user_id, &password, &call.origin)
                .await
                .map_err(core_error)?;
        }
        let role = map
            .get("roleid")
            .map(|v| role_of(v, &format!("{path}/roleid")))
            .transpose()?
            .unwrap_or(user.role);
        let name = display_name(map).unwrap_or_else(|| user.display_name.clone());
        let username = match map.get("username") {
            Some(value) => {
                let text = string(value, &format!("{path}/username"))?;
                Some(Username::parse(text).map_err(|_| {
                    ZabbixError::parameter(&format!("{path}/username"), "cannot be empty")
                })?)
            }
            None => None,
        };
        let renamed = username
            .as_ref()
            .is_some_and(|u| u.as_str() != user.username);
        if role != user.role || name != user.display_name || renamed {
            authority
                .update_user(
                    user_id,
                    username.filter(|_| renamed),
                    name,
                    role,
                    &call.origin,
                )
                .await
                .map_err(|e| user_error(e, map))?;
        }
        updated.push(user_id.to_string());
    }
    Ok(json!({ "userids": updated }))
}

/// The user ids a super admin's `user.delete` or `user.unblock` names: a non-empty array.
fn user_ids_of_super_admin_call(call: &Call<'_>, method: &str) -> Result<Vec<i64>, ZabbixError> {
    let actor = call.user()?;
    call.state
        .authority
        .require_super_admin(actor)
        .map_err(|_| no_permission_to_call(method))?;
    let Value::Array(items) = &call.params else {
        return Err(ZabbixError::parameter("/", "an array is expected"));
    };
    if items.is_empty() {
        return Err(ZabbixError::parameter("/", "cannot be empty"));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| id(v, &format!("/{}", i + 1)))
        .collect()
}

fn userids(ids: &[i64]) -> Value {
    json!({ "userids": ids.iter().map(|id| id.to_string()).collect::<Vec<_>>() })
}

/// Ends the lockout of users and forgets their failed sign-ins.
async fn unblock(call: &Call<'_>) -> MethodResult {
    let ids = user_ids_of_super_admin_call(call, "user.unblock")?;
    let authority = &call.state.authority;
    for user_id in &ids {
        authority.user(*user_id).await.map_err(core_error)?;
    }
    for user_id in &ids {
        authority
            .unlock_user(*user_id, &call.origin)
            .await
            .map_err(core_error)?;
    }
    Ok(userids(&ids))
}

async fn delete(call: &Call<'_>) -> MethodResult {
    let ids = user_ids_of_super_admin_call(call, "user.delete")?;
    let actor = call.user()?;
    let authority = &call.state.authority;
    for user_id in &ids {
        if *user_id == actor.id {
            return Err(ZabbixError::invalid_params(
                "User is not allowed to delete himself.",
            ));
        }
        authority.user(*user_id).await.map_err(core_error)?;
    }
    for user_id in &ids {
        authority
            .delete_user(*user_id, &call.origin)
            .await
            .map_err(core_error)?;
    }
    Ok(userids(&ids))
}

/// A core error from creating or changing a user: a taken name in Zabbix's words.
fn user_error(error: tessera_core::CoreError, map: &Map<String, Value>) -> ZabbixError {
    match error {
        tessera_core::CoreError::Conflict(_) => ZabbixError::invalid_params(format!(
            "User with username \"{}\" already exists.",
            map.get("username")
                .and_then(Value::as_str)
                .unwrap_or_default()
        )),
        other => core_error(other),
    }
}

fn no_permission_to_call(method: &str) -> ZabbixError {
    ZabbixError::invalid_params(format!("No permissions to call \"{method}\"."))
}

/// An error about "/" of one object in a list is about "/N".
fn relocate(error: ZabbixError, path: &str) -> ZabbixError {
    ZabbixError {
        data: error.data.replacen("\"/\"", &format!("\"{path}\""), 1),
        ..error
    }
}
